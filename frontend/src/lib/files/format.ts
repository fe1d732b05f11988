// Words and numbers on a transfer card: sizes, rates, time left, and the
// error sentence for a failed transfer from either side.

import { explain, toApiError, type Explained } from '../errors';
import type { Transfer } from '../types';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** "0 B", "930 B", "1.2 KB", "48 MB", "1.5 GB" (1 KB = 1000 B, as file managers show). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '0 B';
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : 1;
  // 999.96 KB rounds to "1000.0"; carry into the next unit instead.
  if (i < UNITS.length - 1 && Number(v.toFixed(digits)) >= 1000) return `1.0 ${UNITS[i + 1]}`;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

/** "3.4 MB/s"; "" when there is no rate to show. */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : '';
}

/** "8 s left", "3 min left", "1 h 5 min left"; "" when unknown (0). */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s left`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min left`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest ? `${h} h ${rest} min left` : `${h} h left`;
}

/** Whole percent done, 0..100 (0 for an empty total). */
export function percent(t: Pick<Transfer, 'bytes' | 'total'>): number {
  if (t.total <= 0) return t.bytes > 0 ? 100 : 0;
  return Math.max(0, Math.min(100, Math.floor((t.bytes / t.total) * 100)));
}

/**
 * Why a transfer failed, in words for this side of it. The codes' general
 * next steps are written for the sender (and for chat text); a receiver is
 * told to ask for the file again instead.
 */
export function explainTransfer(t: Pick<Transfer, 'error' | 'outgoing'>): Explained {
  const x = explain(toApiError(t.error || 'INTERNAL').code);
  if (x.code === 'PEER_OFFLINE') {
    return { ...x, next: t.outgoing ? 'Send it again when they are back.' : 'Ask them to send it again when they are back.' };
  }
  if (!t.outgoing && (x.code === 'TRANSFER_FAILED' || x.code === 'PEER_SAVE_FAILED' || x.code === 'FILE_UNREADABLE')) {
    return { ...x, next: 'Ask the other person to send it again.' };
  }
  return x;
}

/** What is happening, from this side: "Sending", "Received", "Canceled", ... */
export function stateLabel(t: Pick<Transfer, 'state' | 'outgoing'>): string {
  switch (t.state) {
    case 'waiting':
      return t.outgoing ? 'Waiting for the other person' : 'Waiting to start';
    case 'active':
      return t.outgoing ? 'Sending' : 'Receiving';
    case 'done':
      return t.outgoing ? 'Sent' : 'Received';
    case 'failed':
      return t.outgoing ? 'Not sent' : 'Not received';
    case 'canceled':
      return 'Canceled';
  }
}

/** Progress in numbers for a running card: ["7.0 MB of 31 MB", "2.6 MB/s · 10 s left"]. */
export function progressLine(t: Transfer): [string, string] {
  const files = t.folder ? `${t.filesDone ?? 0} of ${filesText(t.files ?? 0)} · ` : '';
  return [
    `${files}${formatBytes(t.bytes)} of ${formatBytes(t.total)}`,
    [formatRate(t.rate), formatEta(t.etaSeconds)].filter(Boolean).join(' · '),
  ];
}

/** The name split so the extension stays visible when the stem is ellipsized. */
export function splitName(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || name.length - dot > 9 || dot === name.length - 1) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext: name.slice(dot) };
}

/** "1 file", "312 files". */
export function filesText(n: number): string {
  return n === 1 ? '1 file' : `${n.toLocaleString('en-US')} files`;
}

/** What a folder card says next to its name: "312 files · 1.8 GB", plus what the sender left out. */
export function folderSummary(t: Transfer): string {
  const parts = [filesText(t.files ?? 0), formatBytes(t.total)];
  if (t.skipped) {
    const s = t.skipped === 1 ? '' : 's';
    parts.push(`${t.skipped} link${s} or special file${s} skipped`);
  }
  return parts.join(' · ');
}
