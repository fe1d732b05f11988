// The line under the room's name in the header. The name is shown once,
// above it; this line says something the name does not: the peer is
// typing, the start of the safety number once the peer is verified, or
// the connection's state.

import type { RoomView } from '../types';
import { statusText } from './status';

/** How many groups of the safety number the header shows. */
export const SHORT_GROUPS = 2;

/** The first groups of a safety number ("48213 90577 …"), "" when none. */
export function shortSafetyNumber(n: string): string {
  const groups = n.trim().split(/\s+/).filter(Boolean);
  if (groups.length === 0) return '';
  const head = groups.slice(0, SHORT_GROUPS).join(' ');
  return groups.length > SHORT_GROUPS ? `${head} …` : head;
}

export function roomSubtitle(view: Pick<RoomView, 'status' | 'route' | 'code' | 'safetyNumber'>, typing: boolean): string {
  if (typing) return 'typing…';
  const short = shortSafetyNumber(view.safetyNumber);
  if (view.status === 'verified' && short) return `Verified · safety number ${short}`;
  return statusText(view.status, view.route, view.code).text;
}
