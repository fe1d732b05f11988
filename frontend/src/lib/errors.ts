// Stable error codes from the facade mapped to words a person can act on.
// The facade throws `CODE: detail`; the UI never shows the raw detail alone.

export const ERROR_CODES = [
  'ROOM_NOT_FOUND',
  'ROOM_FULL',
  'ROOM_DESTROYED',
  'TIMER_EXPIRED',
  'VERIFY_FAILED',
  'KEY_CHANGED',
  'LINK_CONFLICT',
  'PEER_OFFLINE',
  'TIMEOUT',
  'RATE_LIMITED',
  'BAD_LINK',
  'TOO_LONG',
  'CANNOT_CHANGE',
  'SERVER_UNREACHABLE',
  'SERVER_BUSY',
  'UNSUPPORTED_VERSION',
  'KEYRING_UNAVAILABLE',
  'PROFILE_IN_USE',
  'REPLACED',
  'TRANSFER_FAILED',
  'TRANSFER_DECLINED',
  'PEER_SAVE_FAILED',
  'FILE_UNREADABLE',
  'DISK_FULL',
  'RECEIVE_LIMIT',
  'DOWNLOAD_FOLDER_UNUSABLE',
  'IMAGE_TOO_LARGE',
  'IMAGE_UNREADABLE',
  'NOT_AN_IMAGE',
  'CANCELED',
  'DECLINED',
  'NO_ANSWER',
  'PEER_LEFT',
  'NO_CAMERA',
  'NO_MICROPHONE',
  'DEVICE_BUSY',
  'PERMISSION_DENIED',
  'SCREEN_UNAVAILABLE',
  'WINDOW_CLOSED',
  'CALL_FAILED',
  'BAD_REQUEST',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface Explained {
  code: ErrorCode;
  /** What happened, in one sentence. */
  sentence: string;
  /** What the person can do next. */
  next: string;
}

const TEXT: Record<ErrorCode, { sentence: string; next: string }> = {
  ROOM_NOT_FOUND: {
    sentence: 'This room does not exist (any more).',
    next: 'Ask the other person for a new link, or create a new room.',
  },
  ROOM_FULL: {
    sentence: 'This room already has two people in it.',
    next: 'Parley rooms are for two. Create a new room and share its link.',
  },
  ROOM_DESTROYED: {
    sentence: 'Room destroyed.',
    next: 'Its messages are gone for both of you. Create a new room to talk again.',
  },
  TIMER_EXPIRED: {
    sentence: 'This room self-destructed when its timer ran out.',
    next: 'Create a new room to keep talking.',
  },
  VERIFY_FAILED: {
    sentence: 'The other side could not prove it holds this room’s key.',
    next: 'Do not trust this connection. Send a fresh link over a channel you trust.',
  },
  KEY_CHANGED: {
    sentence: 'The other person’s key changed, so Parley did not connect.',
    next: 'Compare the new safety number with them on a call or in person. Only if it matches, choose Verify.',
  },
  LINK_CONFLICT: {
    sentence: 'This link has the address of a room you already have, but a different secret.',
    next: 'It is not that room’s link. Ask the other person for the link again over a channel you trust.',
  },
  PEER_OFFLINE: {
    sentence: 'Not delivered: the other person is offline.',
    next: 'Your text is kept in the box. Send it again when they are back.',
  },
  TIMEOUT: {
    sentence: 'The connection took too long and gave up.',
    next: 'Check your network, then open the room again.',
  },
  RATE_LIMITED: {
    sentence: 'Too many attempts in a short time.',
    next: 'Wait a minute, then try again.',
  },
  BAD_LINK: {
    sentence: 'That does not look like a Parley room link.',
    next: 'Copy the whole link, starting with https:// or parley://, and paste it again.',
  },
  CANNOT_CHANGE: {
    sentence: 'That message cannot be changed.',
    next: 'Only your own messages can be edited or deleted, and a deleted message stays deleted.',
  },
  TOO_LONG: {
    sentence: 'This message is too long to send.',
    next: 'Shorten it or split it into several messages.',
  },
  SERVER_UNREACHABLE: {
    sentence: 'The signaling server cannot be reached.',
    next: 'Check your network or the server address, then try again.',
  },
  SERVER_BUSY: {
    sentence: 'The signaling server is busy, or this network already has many rooms open on it.',
    next: 'Wait a minute, then try again. If it keeps happening, ask the server\'s operator.',
  },
  UNSUPPORTED_VERSION: {
    sentence: 'The signaling server runs a different version of Parley.',
    next: 'Update Parley, or ask the server\'s operator to update parley-signal.',
  },
  KEYRING_UNAVAILABLE: {
    sentence: 'The system keyring is locked or not available.',
    next: 'Unlock your keyring (log in to the desktop session, or install and start gnome-keyring), then restart Parley. Without a keyring, start it with --secret-store file.',
  },
  PROFILE_IN_USE: {
    sentence: 'Parley is already open with this profile.',
    next: 'Switch to the Parley window that is already open (or stop parley-cli if it uses this profile), then restart Parley.',
  },
  REPLACED: {
    sentence: 'This room was opened somewhere else, so this window let go of it.',
    next: 'Continue in the other window, or open the room here again.',
  },
  TRANSFER_FAILED: {
    sentence: 'The file was damaged in transit and was not saved.',
    next: 'Send it again.',
  },
  TRANSFER_DECLINED: {
    sentence: 'The other person declined this file.',
    next: 'Ask them whether they want it, then send it again.',
  },
  PEER_SAVE_FAILED: {
    sentence: 'The other person’s computer could not save the file.',
    next: 'Ask them to free some disk space, then send it again.',
  },
  FILE_UNREADABLE: {
    sentence: 'Parley could not read this file.',
    next: 'Check that it still exists and that you may open it, then send it again.',
  },
  DISK_FULL: {
    sentence: 'There is not enough disk space to save this file (Parley always leaves 1 GiB free).',
    next: 'Free some space on the disk of your download folder, then ask for the file again.',
  },
  RECEIVE_LIMIT: {
    sentence: 'This room has received as many files as it may in one session, so this one was refused.',
    next: 'If you want more files from this person, close the room and open it again, then ask them to send it again.',
  },
  DOWNLOAD_FOLDER_UNUSABLE: {
    sentence: 'Parley has no safe folder to save received files in, so this one was refused.',
    next: 'The download folder must be yours and not writable by other users (chmod go-w fixes that), or set PARLEY_DOWNLOAD_DIR to such a folder. Then ask for the file again.',
  },
  IMAGE_TOO_LARGE: {
    sentence: 'This image is too large for Parley to preview or paste.',
    next: 'The file itself is fine: open it with your image viewer, or send big images as files with the paperclip.',
  },
  IMAGE_UNREADABLE: {
    sentence: 'Parley could not read this image, so it shows no preview.',
    next: 'The file may be damaged or in a variant Parley cannot show; try opening it with your image viewer.',
  },
  NOT_AN_IMAGE: {
    sentence: 'That is not a PNG, JPEG, GIF or WebP image.',
    next: 'Copy the image again, or send it as a file.',
  },
  CANCELED: {
    sentence: 'The transfer was canceled.',
    next: 'Send the file again if it is still wanted.',
  },
  DECLINED: {
    sentence: 'The other person declined the call.',
    next: 'Send them a message, or try again later.',
  },
  NO_ANSWER: {
    sentence: 'The other person did not answer.',
    next: 'They may be away. Leave a message, or call again later.',
  },
  PEER_LEFT: {
    sentence: 'The call ended because the other person left the room.',
    next: 'Call again when they are back.',
  },
  NO_CAMERA: {
    sentence: 'No camera found.',
    next: 'The call goes on with sound only. Connect a camera, then turn it on.',
  },
  NO_MICROPHONE: {
    sentence: 'No microphone found.',
    next: 'Connect a microphone or headset, then call again.',
  },
  DEVICE_BUSY: {
    sentence: 'The camera or microphone is in use by another app.',
    next: 'Close the other app (or its call), then try again.',
  },
  PERMISSION_DENIED: {
    sentence: 'Parley may not use the camera or microphone.',
    next: 'Allow access in your system’s privacy settings, then try again.',
  },
  SCREEN_UNAVAILABLE: {
    sentence: 'Your screen cannot be shared here.',
    next: 'Parley shares X11 desktops directly and Wayland desktops through the desktop portal (xdg-desktop-portal with PipeWire); the detail says what is missing. The call goes on.',
  },
  WINDOW_CLOSED: {
    sentence: 'The window you shared was closed, so sharing stopped.',
    next: 'Share again to choose another window or the entire screen. The call goes on.',
  },
  CALL_FAILED: {
    sentence: 'The call could not be connected.',
    next: 'Check your network, then call again.',
  },
  BAD_REQUEST: {
    sentence: 'Parley could not use that value.',
    next: 'Check it and try again.',
  },
  INTERNAL: {
    sentence: 'Something went wrong inside Parley.',
    next: 'Try again. If it keeps happening, restart the app.',
  },
};

export function isErrorCode(s: string): s is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(s);
}

/** Explains a code; unknown codes read as INTERNAL so nothing shows raw. */
export function explain(code: string): Explained {
  const c: ErrorCode = isErrorCode(code) ? code : 'INTERNAL';
  return { code: c, ...TEXT[c] };
}

/** An error thrown by the backend, with its stable code split out. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;

  constructor(code: ErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'ApiError';
    this.code = code;
    this.detail = detail;
  }
}

/**
 * Normalises whatever a rejected call produced (Wails rejects with a string,
 * the fake with an Error) into an ApiError.
 */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : String(e);
  // Go's *app.Error is "CODE: detail", or the bare "CODE" when the detail is
  // empty (a server's ROOM_NOT_FOUND carries no reason).
  const m = /^([A-Z_]+)(?::\s?([\s\S]*))?$/.exec(msg);
  if (m && m[1] && isErrorCode(m[1])) return new ApiError(m[1], m[2] ?? '');
  return new ApiError('INTERNAL', msg);
}
