import { describe, expect, it } from 'vitest';
import { ApiError, ERROR_CODES, explain, toApiError } from './errors';

describe('explain', () => {
  it.each(ERROR_CODES)('%s has a sentence and a next step', (code) => {
    const x = explain(code);
    expect(x.code).toBe(code);
    expect(x.sentence.length).toBeGreaterThan(8);
    expect(x.next.length).toBeGreaterThan(8);
    expect(x.sentence).not.toContain(code);
  });

  it('has the words the call UI promises', () => {
    expect(explain('NO_CAMERA').sentence).toBe('No camera found.');
    expect(explain('NO_CAMERA').next).toContain('sound only');
    for (const c of ['DECLINED', 'NO_ANSWER', 'PEER_LEFT', 'NO_MICROPHONE', 'DEVICE_BUSY', 'PERMISSION_DENIED', 'CALL_FAILED']) {
      expect(explain(c).code).toBe(c);
    }
  });

  it('says why a received file was refused and what to do', () => {
    expect(explain('DISK_FULL').sentence).toContain('1 GiB free');
    expect(explain('RECEIVE_LIMIT').next).toContain('close the room and open it again');
    expect(explain('DOWNLOAD_FOLDER_UNUSABLE').next).toContain('PARLEY_DOWNLOAD_DIR');
    expect(toApiError('DOWNLOAD_FOLDER_UNUSABLE: no usable download folder: it is not a folder').code).toBe(
      'DOWNLOAD_FOLDER_UNUSABLE',
    );
  });

  it('reads unknown codes as INTERNAL', () => {
    expect(explain('NOPE').code).toBe('INTERNAL');
  });
});

describe('toApiError', () => {
  it.each([
    ['Wails string', 'PEER_OFFLINE: the other person is not connected', 'PEER_OFFLINE', 'the other person is not connected'],
    ['Error', new Error('ROOM_FULL: two already'), 'ROOM_FULL', 'two already'],
    ['no detail', 'TIMEOUT:', 'TIMEOUT', ''],
    ['bare code (an empty detail; Wails rejects with Error("ROOM_NOT_FOUND"))', new Error('ROOM_NOT_FOUND'), 'ROOM_NOT_FOUND', ''],
    ['bare unknown code', 'WHATEVER', 'INTERNAL', 'WHATEVER'],
    ['unknown code', 'WHATEVER: x', 'INTERNAL', 'WHATEVER: x'],
    ['plain text', 'boom', 'INTERNAL', 'boom'],
    ['non-string', 42, 'INTERNAL', '42'],
  ])('%s', (_name, input, code, detail) => {
    const e = toApiError(input);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe(code);
    expect(e.detail).toBe(detail);
  });

  it('passes ApiError through', () => {
    const e = new ApiError('BAD_LINK', 'x');
    expect(toApiError(e)).toBe(e);
  });
});
