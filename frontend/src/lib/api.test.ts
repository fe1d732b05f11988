import { describe, expect, it, vi } from 'vitest';
import { NoBackendError, WailsApi, createApi } from './api';
import { FakeApi } from './fake-api';

function fakeWindow(search: string, extra: Partial<Window> = {}): Window {
  return { location: { search } as Location, ...extra } as unknown as Window;
}

describe('createApi', () => {
  it('uses the fake only with ?fake=1 and no Wails', async () => {
    const w = fakeWindow('?fake=1');
    const api = await createApi(w, 0);
    expect(api).toBeInstanceOf(FakeApi);
    expect((w as unknown as { __parleyFake: unknown }).__parleyFake).toBe(api);
  });

  it('refuses without Wails and without the flag', async () => {
    await expect(createApi(fakeWindow(''), 0)).rejects.toBeInstanceOf(NoBackendError);
  });

  it('prefers Wails when it is injected, even with ?fake=1', async () => {
    const w = fakeWindow('?fake=1', {
      go: { app: { App: {} as never } },
      runtime: { EventsOn: () => () => {} },
    });
    expect(await createApi(w, 0)).toBeInstanceOf(WailsApi);
  });
});

describe('WailsApi', () => {
  it('calls the bound methods and turns rejections into coded errors', async () => {
    const App = {
      Send: vi.fn().mockRejectedValue('PEER_OFFLINE: the other person is not connected'),
      Rooms: vi.fn().mockResolvedValue(null),
      Room: vi.fn().mockResolvedValue({ id: 'r', messages: null }),
      PendingLink: vi.fn().mockResolvedValue({ id: 3, host: 'h' }),
      ConfirmLink: vi.fn().mockResolvedValue({ id: 'r', messages: null }),
      CancelLink: vi.fn().mockResolvedValue(undefined),
    };
    const api = new WailsApi(App as never, { EventsOn: () => () => {} });
    await expect(api.send('r', 'hi')).rejects.toMatchObject({ code: 'PEER_OFFLINE' });
    expect(App.Send).toHaveBeenCalledWith('r', 'hi');
    expect(await api.rooms()).toEqual([]);
    expect((await api.room('r')).messages).toEqual([]);
    expect(await api.pendingLink()).toEqual({ id: 3, host: 'h' });
    expect((await api.confirmLink(3)).messages).toEqual([]);
    expect(App.ConfirmLink).toHaveBeenCalledWith(3);
    await api.cancelLink(4);
    expect(App.CancelLink).toHaveBeenCalledWith(4);
  });

  it('subscribes through runtime.EventsOn and unsubscribes', () => {
    const off = vi.fn();
    let handler: ((...d: unknown[]) => void) | undefined;
    const rt = {
      EventsOn: vi.fn((_n: string, cb: (...d: unknown[]) => void) => {
        handler = cb;
        return off;
      }),
    };
    const api = new WailsApi({} as never, rt);
    const got: unknown[] = [];
    const unsub = api.on('room:typing', (p) => got.push(p));
    handler?.({ roomId: 'r' });
    expect(got).toEqual([{ roomId: 'r' }]);
    expect(rt.EventsOn).toHaveBeenCalledWith('room:typing', expect.any(Function));
    unsub();
    expect(off).toHaveBeenCalled();
  });

  it('binds the file-transfer methods; Go nil slices become []', async () => {
    const App = {
      PickAndSendFiles: vi.fn().mockResolvedValue(null),
      SendFiles: vi.fn().mockResolvedValue(null),
      Transfers: vi.fn().mockResolvedValue(null),
      CancelTransfer: vi.fn().mockResolvedValue(undefined),
      OpenFile: vi.fn().mockRejectedValue('INTERNAL: not a received file'),
      ShowInFolder: vi.fn().mockResolvedValue(undefined),
      GetDownloadDir: vi.fn().mockResolvedValue('/dl'),
      AnswerOffer: vi.fn().mockResolvedValue(undefined),
      SetActiveRoom: vi.fn().mockResolvedValue(undefined),
    };
    const api = new WailsApi(App as never, { EventsOn: () => () => {} });
    expect(await api.pickAndSendFiles('r')).toEqual([]);
    expect(await api.sendFiles('r', ['/a'])).toEqual([]);
    expect(await api.transfers('r')).toEqual([]);
    await api.cancelTransfer('r', 't');
    await expect(api.openFile('/x')).rejects.toMatchObject({ code: 'INTERNAL' });
    await api.showInFolder('/y');
    expect(await api.getDownloadDir()).toBe('/dl');
    await api.answerOffer('r', 't', true);
    await api.setActiveRoom('');
    expect(App.SendFiles).toHaveBeenCalledWith('r', ['/a']);
    expect(App.CancelTransfer).toHaveBeenCalledWith('r', 't');
    expect(App.ShowInFolder).toHaveBeenCalledWith('/y');
    expect(App.AnswerOffer).toHaveBeenCalledWith('r', 't', true);
    expect(App.SetActiveRoom).toHaveBeenCalledWith('');
  });

  it('binds the call methods; Go nil device lists become []', async () => {
    const view = { roomId: 'r', state: 'outgoing' };
    const App = {
      StartCall: vi.fn().mockResolvedValue(view),
      AnswerCall: vi.fn().mockResolvedValue(view),
      HangUp: vi.fn().mockResolvedValue(undefined),
      SetMicMuted: vi.fn().mockResolvedValue(view),
      SetCamera: vi.fn().mockRejectedValue('NO_CAMERA: no video device'),
      CallDevices: vi.fn().mockResolvedValue({ microphones: [{ id: 'm', label: 'Mic' }], cameras: null, speakers: null }),
      SetCallDevices: vi.fn().mockResolvedValue(undefined),
      MediaEndpoint: vi.fn().mockResolvedValue({ url: 'ws://127.0.0.1:1/media', token: 't' }),
    };
    const api = new WailsApi(App as never, { EventsOn: () => () => {} });
    expect(await api.startCall('r', true)).toBe(view);
    await api.answerCall('r', false, true);
    await api.hangUp('r');
    await api.setMicMuted('r', true);
    await expect(api.setCamera('r', true)).rejects.toMatchObject({ code: 'NO_CAMERA' });
    expect(await api.callDevices()).toEqual({ microphones: [{ id: 'm', label: 'Mic' }], cameras: [], speakers: [] });
    await api.setCallDevices('m', '', 's');
    expect(await api.mediaEndpoint()).toEqual({ url: 'ws://127.0.0.1:1/media', token: 't' });
    expect(App.StartCall).toHaveBeenCalledWith('r', true);
    expect(App.AnswerCall).toHaveBeenCalledWith('r', false, true);
    expect(App.HangUp).toHaveBeenCalledWith('r');
    expect(App.SetMicMuted).toHaveBeenCalledWith('r', true);
    expect(App.SetCamera).toHaveBeenCalledWith('r', true);
    expect(App.SetCallDevices).toHaveBeenCalledWith('m', '', 's');
  });
});
