// The flows run by e2e/run.mjs. Each gets a fresh page and `open(query)`,
// which loads the app with ?fake=1 plus `query`.
//
// The flows named in realBackendFlows also run on the real Go backend
// (e2e-real/run.mjs, `make test-browser-real`): two app backends and a real
// parley-signal, so the fake cannot drift from what the app really does.
// Those flows reach "the other person" only through `peer` (fakePeer here,
// a second app driven through its own UI there), and `open()` there loads
// the app on a fresh profile (the query is the fake's and is ignored).

import jsQR from 'jsqr';

const CODES_IN_ROOM = {
  ROOM_NOT_FOUND: 'This room does not exist',
  ROOM_FULL: 'This room already has two people in it.',
  VERIFY_FAILED: 'could not prove it holds this room',
  TIMEOUT: 'The connection took too long',
  RATE_LIMITED: 'Too many attempts',
  SERVER_UNREACHABLE: 'The signaling server cannot be reached.',
  KEYRING_UNAVAILABLE: 'The system keyring is locked',
  REPLACED: 'This room was opened somewhere else',
  INTERNAL: 'Something went wrong inside Parley.',
  BAD_LINK: 'does not look like a Parley room link',
  PEER_OFFLINE: 'the other person is offline',
  TOO_LONG: 'This message is too long',
};
const CODES_GONE = { ROOM_DESTROYED: 'Room destroyed.', TIMER_EXPIRED: 'self-destructed' };

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const fake = (page, fn, arg) => page.evaluate(fn, arg);

/**
 * Calls get() until ok(value) holds, then returns the value; after ms it
 * throws with what and the last value. For layout that settles over a
 * transition or a scroll, instead of sleeping and hoping it has.
 */
async function poll(get, ok, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function focusedTestId(page) {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName);
}

async function createRoom(page, { selfDestruct = false } = {}) {
  if (selfDestruct) await page.getByLabel('Self-destruct after 10 min').check();
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByTestId('room').waitFor();
}

async function connect(page, peer = fakePeer(page)) {
  await peer.joins();
  await page.getByTestId('status').getByText('Connected, verified (direct)').waitFor();
}

/**
 * The other person in the fake backend: window.__parleyFake's simulated
 * peer. e2e-real/run.mjs has the same methods on a second real app.
 */
export function fakePeer(page) {
  return {
    real: false,
    /** The peer joins the room in view (route and verification are the fake's to choose). */
    joins: (route = 'direct', verified = true) =>
      fake(page, ([r, v]) => window.__parleyFake.peerJoins(undefined, r, v), [route, verified]),
    /** The peer sends text in the room in view. */
    says: (text) => fake(page, (t) => window.__parleyFake.peerSays(t), text),
    /** The peer has received text (the fake peer takes everything at once). */
    sees: async () => {},
    /** A link to a room the peer waits in. */
    newLink: () => fake(page, () => window.__parleyFake.newLink()),
    /**
     * A link that the server refuses with code: ROOM_NOT_FOUND (a room it
     * does not know) or ROOM_FULL (two people are in it already).
     */
    refusedLink: async (code) => {
      await fake(page, (c) => window.__parleyFake.failNext('openRoom', c), code);
      return fake(page, () => window.__parleyFake.newLink());
    },
    /** The peer sends a file of size bytes; returns its bytes' SHA-256 (hex), or '' when there are none. */
    sendsFile: async (name, size) => {
      await fake(page, ([n, z]) => window.__parleyFake.peerSendsFile(n, z), [name, size]);
      return '';
    },
  };
}

/** The flows that run on both the fake and the real backend (e2e-real/run.mjs). */
export const realBackendFlows = [
  'create room: waiting, composer focused, then connected keeps focus',
  'join by pasted link; bad link explained',
  'Enter sends, bubble goes sent -> delivered, composer clears',
  'rename in the header (Enter saves, Esc cancels) and on the home list',
  'clear messages asks first; Esc cancels, confirm clears',
  'a link the server refuses (no such room, room full) is explained on home',
  'files: a received file opens and shows in its folder through the backend',
];

/** Confirms the link-from-outside dialog with Enter once it takes answers. */
async function confirmExternal(page) {
  await page.locator('[data-testid="link-dialog"][data-armed="true"]').waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('alertdialog', { name: 'Join this room?' }).waitFor({ state: 'detached' });
}

async function status(page) {
  return page.getByTestId('status').innerText();
}

// ---- calls ---------------------------------------------------------------

/** Opens the app with the fake media endpoint pointing at the e2e relay. */
function mediaQuery(srv) {
  return `&media=${encodeURIComponent(srv.mediaUrl)}&mediaToken=${srv.mediaToken}`;
}

async function callState(page) {
  return page.getByTestId('call').getAttribute('data-state');
}

async function waitCall(page, state) {
  await page.locator(`[data-testid="call"][data-state="${state}"]`).waitFor();
}

/** A connected room with a voice call that the peer accepted. */
async function activeVoiceCall(page, open, query = '') {
  await open(query);
  await createRoom(page);
  await connect(page);
  await page.getByRole('button', { name: 'Start a voice call' }).click();
  await waitCall(page, 'outgoing');
  await fake(page, () => window.__parleyFake.peerAnswers(false));
  await waitCall(page, 'active');
}

/**
 * Starts a media source in the page: VP8 frames of one colour per stream
 * (WebCodecs VideoEncoder) and Opus packets of a tone (AudioEncoder), sent
 * through the e2e relay to the UI's media connection, like Go would.
 */
async function startSource(page, srv, streams, audio = true) {
  const room = await fake(page, () => window.__parleyFake.lastRoomId());
  await page.evaluate(
    async ({ url, token, room, streams, audio }) => {
      const ws = new WebSocket(`${url}?token=${token}&room=${room}&role=source`);
      ws.binaryType = 'arraybuffer';
      await new Promise((ok, bad) => {
        ws.onopen = ok;
        ws.onerror = bad;
      });
      const pack = (kind, key, tsUs, w, h, data) => {
        const out = new Uint8Array(14 + data.byteLength);
        const v = new DataView(out.buffer);
        v.setUint8(0, kind);
        v.setUint8(1, key ? 1 : 0);
        v.setBigUint64(2, BigInt(Math.max(0, Math.round(tsUs))));
        v.setUint16(10, w);
        v.setUint16(12, h);
        out.set(data, 14);
        return out;
      };
      const send = (b) => ws.readyState === 1 && ws.send(b);
      const timers = [];
      for (const s of streams) {
        const canvas = new OffscreenCanvas(s.w, s.h);
        const g = canvas.getContext('2d');
        g.fillStyle = `rgb(${s.rgb.join(',')})`;
        g.fillRect(0, 0, s.w, s.h);
        const enc = new VideoEncoder({
          output: (chunk) => {
            const buf = new Uint8Array(chunk.byteLength);
            chunk.copyTo(buf);
            send(pack(s.kind, chunk.type === 'key', chunk.timestamp, s.w, s.h, buf));
          },
          error: (e) => console.error('encoder', e),
        });
        enc.configure({ codec: 'vp8', width: s.w, height: s.h, bitrate: 400_000, framerate: 15, latencyMode: 'realtime' });
        let i = 0;
        timers.push(
          setInterval(() => {
            const f = new VideoFrame(canvas, { timestamp: i * 66_666 });
            enc.encode(f, { keyFrame: i % 10 === 0 });
            f.close();
            i++;
          }, 66),
        );
      }
      if (audio) {
        const enc = new AudioEncoder({
          output: (chunk) => {
            const buf = new Uint8Array(chunk.byteLength);
            chunk.copyTo(buf);
            send(pack(3, true, chunk.timestamp, 0, 0, buf));
          },
          error: (e) => console.error('audio encoder', e),
        });
        enc.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1, bitrate: 32000 });
        let n = 0;
        timers.push(
          setInterval(() => {
            const samples = new Float32Array(960);
            for (let k = 0; k < 960; k++) samples[k] = 0.2 * Math.sin((2 * Math.PI * 440 * (n * 960 + k)) / 48000);
            const d = new AudioData({ format: 'f32-planar', sampleRate: 48000, numberOfFrames: 960, numberOfChannels: 1, timestamp: n * 20_000, data: samples });
            enc.encode(d);
            d.close();
            n++;
          }, 20),
        );
      }
      window.__sourceSend = (kind, key, bytes) => send(pack(kind, key, 0, 320, 240, new Uint8Array(bytes)));
      window.__stopSource = () => {
        for (const t of timers) clearInterval(t);
        ws.close();
      };
    },
    { url: srv.mediaUrl, token: srv.mediaToken, room, streams, audio },
  );
}

/**
 * The colour at the centre of a canvas, once it has a picture (sink: the
 * media connection's stream drawn on it, when not the usual one).
 */
async function canvasColour(page, testId, sink = testId === 'remote-video' ? 'remote' : 'local') {
  await page.waitForFunction((s) => window.__parleyCall?.media?.[s].frames > 1, sink);
  return page.evaluate((id) => {
    const c = document.querySelector(`[data-testid="${id}"]`);
    const g = c.getContext('2d');
    return Array.from(g.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data.slice(0, 3));
  }, testId);
}

function near(got, want, tol = 40) {
  return got.every((v, i) => Math.abs(v - want[i]) <= tol);
}

export const flows = {
  'first run: home first; Create asks for a server, this computer (LAN) creates the room': async (page, open) => {
    await open('&firstRun=1');
    await page.getByRole('button', { name: 'Create room' }).click();
    const q = page.getByRole('dialog', { name: 'Choose a server for new rooms' });
    await q.waitFor();
    assert((await page.getByTestId('use-room-server').count()) === 0, 'a room server offered with no rooms');
    await page.keyboard.press('Escape');
    await q.waitFor({ state: 'detached' });
    assert((await fake(page, () => window.__parleyFake.rooms())).length === 0, 'Esc created a room');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByTestId('use-lan').click();
    await page.getByTestId('room').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'composer not focused');
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByText('this computer (LAN)').waitFor();
  },

  'first run with a link: confirm, type at once; Create offers the link server': async (page, open) => {
    const link = 'https://chat.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBBBB';
    await open(`&firstRun=1&startup=${encodeURIComponent(link)}`);
    await confirmExternal(page);
    await page.getByTestId('room').waitFor();
    assert((await page.getByRole('dialog').count()) === 0, 'a server question over the room');
    assert((await focusedTestId(page)) === 'composer', 'composer not focused');
    await connect(page);
    await page.keyboard.type('first words');
    await page.keyboard.press('Enter');
    await page.getByTestId('message').getByText('first words').waitFor();

    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('dialog', { name: 'Choose a server for new rooms' }).waitFor();
    const offered = page.getByTestId('use-room-server');
    assert((await offered.innerText()).includes('chat.example'), `offered: ${await offered.innerText()}`);
    assert((await focusedTestId(page)) === 'use-room-server', 'the link server is not the first choice');
    await page.keyboard.press('Enter');
    await page.getByTestId('room').waitFor();
    const made = await fake(page, () => window.__parleyFake.settings.server);
    assert(made === 'https://chat.example', `server: ${made}`);
  },

  'first run: choose a server URL, bad input explained': async (page, open) => {
    await open('&firstRun=1');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.getByRole('dialog', { name: 'Choose a server for new rooms' }).waitFor();
    await page.getByRole('button', { name: 'Use this server' }).click();
    await page.getByRole('alert').getByText('Enter the address of a Parley server.').waitFor();
    await page.getByLabel(/A server address/).fill('nonsense');
    await page.getByRole('button', { name: 'Use this server' }).click();
    await page.getByRole('alert').getByText('That is not a server address.').waitFor();
    await page.getByLabel(/A server address/).fill('https://chat.example.org/');
    await page.getByLabel(/A server address/).press('Enter');
    await page.getByTestId('room').waitFor();
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByText('https://chat.example.org', { exact: true }).waitFor();
  },

  'create room: waiting, composer focused, then connected keeps focus': async (page, open, _srv, peer) => {
    await open();
    await createRoom(page);
    assert((await status(page)).includes('Waiting for peer'), `status: ${await status(page)}`);
    assert((await focusedTestId(page)) === 'composer', 'composer not focused on room open');
    await connect(page, peer);
    assert((await focusedTestId(page)) === 'composer', 'composer lost focus on connect');
    await page.keyboard.type('typed straight away');
    await page.keyboard.press('Enter');
    await page.getByTestId('message').getByText('typed straight away').waitFor();
  },

  'create room with self-destruct shows the countdown': async (page, open) => {
    await open();
    await createRoom(page, { selfDestruct: true });
    const t = await page.getByTestId('countdown').innerText();
    assert(/Self-destructs in (10:00|9:5\d)/.test(t), `countdown: ${t}`);
  },

  'join by pasted link; bad link explained': async (page, open, _srv, peer) => {
    await open();
    await page.getByLabel('Room link').fill('not a link');
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByTestId('home-notice').getByText(CODES_IN_ROOM.BAD_LINK).waitFor();
    const link = await peer.newLink();
    await page.getByLabel('Room link').fill(link);
    await page.getByLabel('Room link').press('Enter');
    await page.getByTestId('room').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'composer not focused after join');
    if (peer.real) {
      // The real peer waits in its room already: the two connect by
      // themselves, over loopback, and verify each other.
      await page.getByTestId('status').getByText('Connected, verified (direct)').waitFor();
      return;
    }
    assert((await status(page)).includes('Connecting'), `status: ${await status(page)}`);
    await peer.joins('relayed', false);
    await page.getByTestId('status').getByText('Connected (relayed)').waitFor();
  },

  'Enter sends, bubble goes sent -> delivered, composer clears': async (page, open, _srv, peer) => {
    await open();
    await createRoom(page);
    await connect(page, peer);
    const box = page.getByTestId('composer');
    await box.fill('hello there');
    await box.press('Enter');
    const msg = page.getByTestId('message').filter({ hasText: 'hello there' });
    await msg.waitFor();
    await page.locator('[data-testid="message"][data-state="delivered"]').waitFor();
    assert((await box.inputValue()) === '', 'composer not cleared');
    await page.getByRole('button', { name: 'Send', exact: true }).isDisabled();
    await peer.sees('hello there');
  },

  'Shift+Enter adds a line; Send button sends both lines': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    const box = page.getByTestId('composer');
    await box.focus();
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    assert((await box.inputValue()) === 'line one\nline two', `value: ${JSON.stringify(await box.inputValue())}`);
    assert((await page.getByTestId('message').count()) === 0, 'Shift+Enter sent');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const text = await page.getByTestId('message').first().locator('.text').innerText();
    assert(text === 'line one\nline two', `bubble: ${JSON.stringify(text)}`);
  },

  'peer offline: not delivered, text kept in the composer': async (page, open) => {
    await open();
    await createRoom(page);
    const box = page.getByTestId('composer');
    await box.fill('are you there?');
    await box.press('Enter');
    await page.getByTestId('composer-error').getByText(CODES_IN_ROOM.PEER_OFFLINE).waitFor();
    assert((await box.inputValue()) === 'are you there?', 'text lost');
    assert((await page.getByTestId('message').count()) === 0, 'a bubble appeared');
    await connect(page);
    await fake(page, () => window.__parleyFake.peerLeaves());
    assert((await status(page)).includes('Peer left'), `status: ${await status(page)}`);
  },

  'incoming text is text: no HTML, links go to the system browser': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => {
      window.__pwned = false;
      window.__parleyFake.peerSays('<img src=x onerror="window.__pwned=true"><b>bold</b> see https://example.org/a(b).');
    });
    const bubble = page.getByTestId('message').first();
    await bubble.getByText('<img src=x', { exact: false }).waitFor();
    assert((await bubble.locator('img, b').count()) === 0, 'HTML was rendered');
    const before = page.url();
    await bubble.getByRole('link', { name: 'https://example.org/a(b)' }).click();
    const opened = await fake(page, () => window.__parleyFake.opened);
    assert(opened.at(-1) === 'https://example.org/a(b)', `opened: ${opened}`);
    assert(page.url() === before, 'webview navigated');
    assert(!(await page.evaluate(() => window.__pwned)), 'script ran');
  },

  'markdown: formatting as elements, a scrolling code block copies, javascript: stays text': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    const long = `const wide = "${'x'.repeat(400)}";`;
    const code = [long, ...Array.from({ length: 40 }, (_, i) => `let n${i} = ${i}; // line ${i}`)].join('\n');
    await fake(
      page,
      ([code]) => {
        window.__pwned = false;
        window.__parleyFake.peerSays(
          `**bold** *it* ~~old~~ \`x<y\` [docs](https://docs.example/a) [bad](javascript:window.__pwned=true)\n> quoted\n- one\n- two\n\`\`\`js\n${code}\n\`\`\``,
        );
      },
      [code],
    );
    const bubble = page.getByTestId('message').first();
    await bubble.locator('strong', { hasText: 'bold' }).waitFor();
    for (const [sel, txt] of [['em', 'it'], ['s', 'old'], ['code.inline', 'x<y'], ['blockquote', 'quoted'], ['ul li', 'one']]) {
      assert((await bubble.locator(sel).first().innerText()).trim() === txt, `${sel} missing`);
    }
    assert((await bubble.getByRole('link').count()) === 1, 'javascript: became a link');
    await bubble.getByText('[bad](javascript:window.__pwned=true)', { exact: false }).waitFor();
    await bubble.getByRole('link', { name: 'docs' }).click();
    assert((await fake(page, () => window.__parleyFake.opened)).at(-1) === 'https://docs.example/a', 'docs not opened');

    const pre = bubble.locator('pre');
    assert((await pre.locator('.hljs-keyword').count()) > 0, 'not highlighted');
    const box = await pre.evaluate((el) => ({
      sw: el.scrollWidth,
      cw: el.clientWidth,
      sh: el.scrollHeight,
      ch: el.clientHeight,
      bubble: el.closest('[data-testid="message"] .bubble').getBoundingClientRect().width,
      list: el.closest('[data-testid="message"]').getBoundingClientRect().width,
    }));
    assert(box.sw > box.cw && box.sh > box.ch, `code does not scroll: ${JSON.stringify(box)}`);
    assert(box.bubble < box.list, `the code block widened the bubble: ${JSON.stringify(box)}`);
    await pre.focus();
    await page.keyboard.press('End');
    await bubble.getByRole('button', { name: 'Copy code' }).click();
    await bubble.getByRole('button', { name: 'Copy code' }).getByText('Copied').waitFor();
    assert((await fake(page, () => window.__parleyFake.copied)).at(-1) === code, 'copied something else');
    assert(!(await page.evaluate(() => window.__pwned)), 'script ran');
  },

  'messages: reply jumps to the original, edit, react, delete for both': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    const first = await fake(page, () => window.__parleyFake.peerSays('**Lunch** at noon?').id);
    for (let i = 0; i < 30; i++) await fake(page, (n) => window.__parleyFake.peerSays(`filler ${n}`), i);
    const theirs = page.locator(`[data-testid="message"][data-id="${first}"]`);

    // Reply from the keyboard: focus the original's Reply button, type, Enter.
    await theirs.getByRole('button', { name: 'Reply' }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('compose-mode').getByText('Lunch at noon?').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'composer not focused for the reply');
    await page.keyboard.type('teh best idea');
    await page.keyboard.press('Enter');
    const mine = page.getByTestId('message').filter({ hasText: 'teh best idea' });
    await mine.getByTestId('reply-quote').getByText('Lunch at noon?').waitFor();
    assert((await page.getByTestId('compose-mode').count()) === 0, 'still replying');

    // The quote jumps back to the original (scrolled out of view) and focuses it.
    await mine.getByTestId('reply-quote').click();
    await page.waitForFunction((id) => document.activeElement?.closest('[data-testid="message"]')?.getAttribute('data-id') === id, first);
    assert(await theirs.isVisible(), 'original not shown');

    // Edit our reply: Esc cancels and puts the draft back, then save.
    await page.getByTestId('composer').fill('half typed');
    await mine.hover();
    await mine.getByRole('button', { name: 'Edit' }).click();
    await page.getByTestId('compose-mode').getByText('Editing').waitFor();
    assert((await page.getByTestId('composer').inputValue()) === 'teh best idea', 'edit did not load the text');
    await page.keyboard.press('Escape');
    assert((await page.getByTestId('composer').inputValue()) === 'half typed', 'draft lost');
    await mine.hover();
    await mine.getByRole('button', { name: 'Edit' }).click();
    await page.getByTestId('composer').fill('the best idea');
    await page.keyboard.press('Enter');
    const edited = page.getByTestId('message').filter({ hasText: 'the best idea' });
    await edited.getByTestId('edited').waitFor();
    assert((await page.getByTestId('composer').inputValue()) === 'half typed', 'draft not back after the edit');

    // React to theirs; the peer reacts to ours; both show.
    await theirs.hover();
    await theirs.getByRole('button', { name: 'React' }).click();
    await theirs.getByRole('button', { name: 'React 👍' }).click();
    await theirs.getByTestId('reactions').getByText('👍').waitFor();
    const mineId = await edited.getAttribute('data-id');
    await fake(page, (id) => window.__parleyFake.peerReacts(id, '❤️'), mineId);
    await edited.getByTestId('reactions').getByText('❤️').waitFor();

    // The peer edits its message; it cannot edit ours.
    assert(await fake(page, (id) => window.__parleyFake.peerEdits(id, '**Lunch** at one?'), first), 'peer edit refused');
    await theirs.getByText('Lunch').waitFor();
    await theirs.getByText('at one?').waitFor();
    assert(!(await fake(page, (id) => window.__parleyFake.peerEdits(id, 'hacked'), mineId)), 'peer edited our message');

    // Delete ours for both, after a confirmation.
    await edited.hover();
    await edited.getByRole('button', { name: 'Delete for both' }).click();
    await page.getByRole('alertdialog', { name: 'Delete for both?' }).getByRole('button', { name: 'Delete' }).click();
    await page.locator(`[data-testid="message"][data-id="${mineId}"] [data-testid="tombstone"]`).waitFor();
    assert((await page.getByText('the best idea').count()) === 0, 'deleted text still shown');
    const stored = await fake(page, (id) => window.__parleyFake.room(window.__parleyFake.lastRoomId()).then((v) => v.messages.find((m) => m.id === id)), mineId);
    assert(stored.deleted && stored.text === '', `fake history keeps ${JSON.stringify(stored)}`);
  },

  'share link as a QR code: the drawn code reads back as the room link; Esc closes': async (page, open) => {
    await open();
    await createRoom(page);
    await page.getByRole('button', { name: 'Show the room link as a QR code' }).click();
    const dlg = page.getByRole('dialog', { name: 'Room link as a QR code' });
    await dlg.waitFor();
    // Draw the SVG the page shows onto a canvas, as a camera would see it.
    const px = await page.evaluate(async () => {
      const svg = document.querySelector('[data-testid="room-qr"]');
      const img = new Image();
      img.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = c.height = 330;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0, 330, 330);
      const d = g.getImageData(0, 0, 330, 330).data;
      let bin = '';
      for (let i = 0; i < d.length; i += 8192) bin += String.fromCharCode(...d.subarray(i, i + 8192));
      return btoa(bin);
    });
    const read = jsQR(new Uint8ClampedArray(Buffer.from(px, 'base64')), 330, 330);
    const link = await fake(page, () => window.__parleyFake.room(window.__parleyFake.lastRoomId()).then((v) => v.link));
    assert(read?.data === link, `QR reads ${read?.data}, want ${link}`);
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert((await focusedTestId(page)) === 'show-qr', 'focus did not return to the QR button');
  },

  'typing indicator and unread count while scrolled up': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerTypes());
    await page.getByText('typing…').waitFor();
    await fake(page, () => {
      for (let i = 0; i < 40; i++) window.__parleyFake.peerSays(`line ${i}`);
    });
    await page.getByRole('log').evaluate((el) => el.scrollTo(0, 0));
    await page.getByRole('log').dispatchEvent('scroll');
    await fake(page, () => window.__parleyFake.peerSays('news'));
    await page.getByRole('button', { name: '1 new message' }).waitFor();
    await page.getByText('New messages').waitFor();
    await page.getByRole('button', { name: '1 new message' }).click();
    await page.getByRole('button', { name: /new message/ }).waitFor({ state: 'detached' });
  },

  'long history: opens at the newest, scrolling up loads older in place; Ctrl+F finds, marks and jumps': async (page, open) => {
    await open('&long=5000');
    await page.getByRole('button', { name: 'Open Long history' }).click();
    const log = page.getByRole('log');
    await log.locator('[data-id="long-4999"]').waitFor();
    const count = () => log.locator('[data-testid="message"]').count();
    assert((await count()) <= 50, `opened with ${await count()} messages in the page, want the newest 50`);

    // Scroll to the top: the page before loads and the row in view stays put.
    const top = await log.evaluate((el) => {
      el.scrollTo(0, 0);
      const first = el.querySelector('[data-testid="message"]');
      return { id: first.dataset.id, y: first.getBoundingClientRect().top };
    });
    await log.locator(`[data-id="long-${Number(top.id.slice(5)) - 1}"]`).waitFor({ state: 'attached' });
    const after = await log.evaluate(
      (el, id) => el.querySelector(`[data-id="${id}"]`).getBoundingClientRect().top,
      top.id,
    );
    assert(Math.abs(after - top.y) < 40, `the row in view moved from ${top.y} to ${after} px when older messages loaded`);

    // Far back, the window stays bounded and offers the way back.
    while (!(await page.getByTestId('to-newest').isVisible())) {
      const first = await log.evaluate((el) => el.querySelector('[data-testid="message"]').dataset.id);
      await log.evaluate((el) => el.scrollTo(0, 0));
      await page.waitForFunction(
        (id) => document.querySelector('[role="log"] [data-testid="message"]').dataset.id !== id,
        first,
      );
    }
    assert((await count()) <= 400, `${await count()} messages in the page after paging back, want at most 400`);

    // Ctrl+F: a unique line far back is found, loaded, marked and highlighted.
    await page.keyboard.press('Control+f');
    const input = page.getByTestId('search-input');
    await input.waitFor();
    assert((await focusedTestId(page)) === 'search-input', 'Ctrl+F did not focus the search field');
    await input.fill('(1234)');
    await page.getByTestId('search-count').getByText('1 of 1').waitFor();
    const hit = log.locator('[data-id="long-1234"]');
    await hit.locator('[data-testid="search-mark"]').getByText('(1234)').waitFor();
    assert((await hit.getAttribute('data-marked')) !== null, 'the hit is not marked');
    await input.fill('lunch');
    await page.getByTestId('search-count').getByText('1 of 50+').waitFor();
    await log.locator('[data-id="long-4997"][data-marked]').waitFor();
    await input.press('Enter');
    await page.getByTestId('search-count').getByText('2 of 50+').waitFor();
    await log.locator('[data-id="long-4992"][data-marked]').waitFor();
    await input.press('Shift+Enter');
    await log.locator('[data-id="long-4997"][data-marked]').waitFor();
    await input.fill('zebra');
    await page.getByTestId('search-count').getByText('No matches').waitFor();
    await input.press('Escape');
    await page.getByTestId('search-bar').waitFor({ state: 'detached' });
    assert((await focusedTestId(page)) === 'composer', 'Esc did not return to the composer');
  },

  'rename in the header (Enter saves, Esc cancels) and on the home list': async (page, open) => {
    await open();
    await createRoom(page);
    await page.getByTestId('room-name').click();
    await page.getByLabel('Room name').fill('Plans');
    await page.getByLabel('Room name').press('Enter');
    await page.getByTestId('room-name').getByText('Plans').waitFor();
    await page.getByTestId('room-name').click();
    await page.getByLabel('Room name').fill('Nope');
    await page.getByLabel('Room name').press('Escape');
    await page.getByTestId('room-name').getByText('Plans').waitFor();
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByRole('button', { name: 'Open Plans' }).waitFor();
    await page.getByRole('button', { name: 'Rename Plans' }).click();
    await page.getByLabel('Room name').fill('Trip');
    await page.getByLabel('Room name').press('Enter');
    await page.getByRole('button', { name: 'Open Trip' }).click();
    await page.getByTestId('room-name').getByText('Trip').waitFor();
  },

  'forget a recent room (confirm)': async (page, open) => {
    await open('&seed=1');
    await page.getByRole('button', { name: 'Forget Sam' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Forget' }).click();
    await page.getByRole('button', { name: 'Open Sam' }).waitFor({ state: 'detached' });
    assert((await page.getByTestId('recent-room').count()) === 2, 'not forgotten');
  },

  'clear messages asks first; Esc cancels, confirm clears': async (page, open, _srv, peer) => {
    await open();
    await createRoom(page);
    await connect(page, peer);
    await peer.says('keep me?');
    await page.getByTestId('message').getByText('keep me?').waitFor();
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.getByRole('menuitem', { name: 'Clear messages' }).click();
    await page.getByRole('alertdialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    assert((await page.getByTestId('message').count()) === 1, 'cleared on Esc');
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Clear messages' }).click();
    await page.getByText('No messages yet').waitFor();
  },

  'menu: Esc closes and returns focus; Verify shows the safety number': async (page, open) => {
    await open();
    await createRoom(page);
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.getByRole('menu').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('menu').waitFor({ state: 'detached' });
    const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert(label === 'Room menu', `focus on ${label}`);
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.getByRole('menuitem', { name: 'Verify' }).click();
    await page.getByTestId('safety-number-pending').waitFor();
    await page.keyboard.press('Escape');
    await connect(page);
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.getByRole('menuitem', { name: 'Verify' }).click();
    const n = await page.getByTestId('safety-number').innerText();
    assert(/^\d{5}( \d{5})+$/.test(n.trim()), `safety number: ${n}`);
  },

  'destroy room (confirm): home with "Room destroyed"': async (page, open) => {
    await open();
    await createRoom(page);
    await page.getByRole('button', { name: 'Room menu' }).click();
    await page.getByRole('menuitem', { name: 'Destroy room' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Destroy room' }).click();
    await page.getByTestId('home-notice').getByText('Room destroyed.').waitFor();
    assert((await page.getByTestId('recent-room').count()) === 0, 'destroyed room still listed');
  },

  'peer destroys the room: home with "Room destroyed"': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.closeRoom('ROOM_DESTROYED'));
    await page.getByTestId('home-notice').getByText('Room destroyed.').waitFor();
  },

  'server ends the room unconfirmed: it stays, marked ended, and can be deleted': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerSays('still here'));
    await fake(page, () => window.__parleyFake.serverEnds('ROOM_DESTROYED'));
    await page.getByTestId('room-ended').getByText('This room has ended').waitFor();
    await page.getByText('still here').waitFor();
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByTestId('badge-ended').waitFor();
    await page.getByTestId('recent-room').getByRole('button', { name: /^Open / }).click();
    await page.getByRole('button', { name: 'Delete from this computer' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Create room' }).waitFor();
    assert((await page.getByTestId('recent-room').count()) === 0, 'deleted room still listed');
  },

  'key changed: both safety numbers, no reconnect, Verify trusts the new key': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerKeyChanges());
    const notice = page.getByTestId('key-changed');
    await notice.getByText('The other person’s key changed').waitFor();
    assert((await page.getByTestId('old-safety-number').innerText()) !== (await page.getByTestId('new-safety-number').innerText()), 'same numbers');
    assert((await page.getByRole('button', { name: 'Reconnect' }).count()) === 0, 'Reconnect offered after KEY_CHANGED');
    await notice.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Trust new key' }).click();
    await page.getByTestId('status').getByText('Connected, verified (direct)').waitFor();
    assert((await notice.count()) === 0, 'key change notice still shown');
  },

  'share link: copies through the backend and toasts': async (page, open) => {
    await open();
    await createRoom(page);
    await page.getByRole('button', { name: 'Share link' }).click();
    await page.getByTestId('toast').getByText('Link copied').waitFor();
    const [copied, id] = await fake(page, () => [window.__parleyFake.copied, window.__parleyFake.lastRoomId()]);
    assert(copied.length === 1 && copied[0].includes(`/r/${id}#`), `copied: ${copied}`);
  },

  'startup link asks first; Enter joins it with the composer focused': async (page, open) => {
    const link = 'https://signal.parley.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBBBB';
    await open(`&startup=${encodeURIComponent(link)}`);
    const dlg = page.getByRole('alertdialog', { name: 'Join this room?' });
    await dlg.waitFor();
    assert((await page.getByTestId('link-host').innerText()) === 'signal.parley.example', 'server not named');
    assert((await page.getByTestId('link-room').innerText()).includes('a new room'), 'room not named');
    assert((await fake(page, () => window.__parleyFake.rooms())).length === 0, 'joined before the confirmation');
    assert(await dlg.evaluate((d) => d.contains(document.activeElement)), 'focus is not in the dialog');
    await confirmExternal(page);
    await page.getByTestId('room').waitFor();
    assert((await fake(page, () => window.__parleyFake.confirmed)).join() === link, 'joined something else');
    assert((await focusedTestId(page)) === 'composer', 'composer not focused');
    await connect(page);
    assert((await focusedTestId(page)) === 'composer', 'composer lost focus');
  },

  'a link from outside asks first: Esc cancels, Join joins': async (page, open) => {
    await open();
    await page.getByLabel('Room link').focus();
    await fake(page, () => window.__parleyFake.openLink(window.__parleyFake.newLink()));
    const dlg = page.getByRole('alertdialog', { name: 'Join this room?' });
    await dlg.waitFor();
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert((await fake(page, () => window.__parleyFake.rooms())).length === 0, 'Esc joined the room');
    assert((await fake(page, () => window.__parleyFake.waitingLink())) === '', 'the link still waits in Go');
    assert(await page.getByRole('button', { name: 'Create room' }).isVisible(), 'not on home');

    await fake(page, () => window.__parleyFake.openLink(window.__parleyFake.newLink()));
    await dlg.waitFor();
    await page.locator('[data-testid="link-dialog"][data-armed="true"]').waitFor();
    await dlg.getByRole('button', { name: 'Join' }).click();
    await page.getByTestId('room').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'composer not focused');
    assert((await fake(page, () => window.__parleyFake.confirmed)).length === 1, 'not joined through the confirmation');
  },

  'a known room from outside is named; a pasted link joins without asking': async (page, open) => {
    await open('&seed=1');
    const link = await fake(page, async () => (await window.__parleyFake.rooms()).find((r) => r.name === 'Sam').link);
    await fake(page, (l) => window.__parleyFake.openLink(l), link);
    await page.getByTestId('link-room').getByText('Sam').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    await page.getByLabel('Room link').fill(await fake(page, () => window.__parleyFake.newLink()));
    await page.getByLabel('Room link').press('Enter');
    await page.getByTestId('room').waitFor();
    assert((await page.getByRole('alertdialog').count()) === 0, 'a pasted link asked');
  },

  'every error code closing a room is shown with a next step': async (page, open) => {
    await open();
    for (const [code, words] of Object.entries(CODES_IN_ROOM)) {
      const link = await fake(page, () => window.__parleyFake.newLink());
      await fake(page, (l) => window.__parleyFake.openLink(l), link);
      await confirmExternal(page);
      await page.locator(`[data-testid="room"]`).waitFor();
      await page.waitForFunction((l) => document.querySelector('[data-testid="status"]')?.getAttribute('data-status') === 'connecting', link);
      await fake(page, (c) => window.__parleyFake.closeRoom(c), code);
      const bar = page.locator(`[data-testid="status"][data-code="${code}"]`);
      await bar.getByText(words).waitFor();
      const next = await bar.locator('.next').innerText();
      assert(next.trim().length > 10, `${code}: no next step`);
    }
    for (const [code, words] of Object.entries(CODES_GONE)) {
      await page.getByRole('button', { name: 'Back to rooms' }).click().catch(() => {});
      await page.getByRole('button', { name: 'Create room' }).click();
      await page.getByTestId('room').waitFor();
      await fake(page, (c) => window.__parleyFake.closeRoom(c), code);
      await page.locator(`[data-testid="home-notice"][data-code="${code}"]`).getByText(words).waitFor();
    }
  },

  'a link the server refuses (no such room, room full) is explained on home': async (page, open, _srv, peer) => {
    await open();
    for (const code of ['ROOM_NOT_FOUND', 'ROOM_FULL']) {
      await page.getByLabel('Room link').fill(await peer.refusedLink(code));
      await page.getByRole('button', { name: 'Join' }).click();
      await page.locator(`[data-testid="home-notice"][data-code="${code}"]`).getByText(CODES_IN_ROOM[code]).waitFor();
      assert((await page.getByTestId('room').count()) === 0, `a room screen after ${code}`);
    }
  },

  'every error code from opening a link is shown on home': async (page, open) => {
    await open();
    const all = { ...CODES_IN_ROOM, ...CODES_GONE };
    for (const [code, words] of Object.entries(all)) {
      await fake(page, (c) => window.__parleyFake.failNext('openRoom', c), code);
      const link = await fake(page, () => window.__parleyFake.newLink());
      await page.getByLabel('Room link').fill(link);
      await page.getByRole('button', { name: 'Join' }).click();
      await page.locator(`[data-testid="home-notice"][data-code="${code}"]`).getByText(words).waitFor();
    }
  },

  'too long message explained, text kept': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await page.getByTestId('composer').fill('x'.repeat(4001));
    await page.getByTestId('composer').press('Enter');
    await page.locator('[data-testid="composer-error"][data-code="TOO_LONG"]').waitFor();
    assert((await page.getByTestId('composer').inputValue()).length === 4001, 'text lost');
  },

  'keyboard only: Tab reaches create, join and recent rooms': async (page, open) => {
    await open('&seed=1');
    const seen = new Set();
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      seen.add(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent?.trim()));
    }
    for (const want of ['Create room', 'Room link', 'Open Sam', 'Forget Sam']) {
      assert([...seen].some((s) => s?.includes(want)), `Tab never reached ${want}: ${[...seen].join(' | ')}`);
    }
    await page.getByRole('button', { name: 'Open Sam' }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('room').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'composer not focused');
  },

  'files: paperclip sends, the card shows progress, then done': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => {
      window.__parleyFake.setTransferRate(6_000_000);
      window.__parleyFake.willPick([{ name: 'slides.pdf', size: 9_000_000 }]);
    });
    await page.getByRole('button', { name: 'Send files' }).click();
    const card = page.getByTestId('transfer').filter({ hasText: 'slides.pdf' });
    await card.locator('[data-testid="transfer-progress"]').getByText(/of 9\.0 MB/).waitFor();
    await card.getByRole('progressbar').waitFor();
    const rate = await card.getByTestId('transfer-progress').innerText();
    assert(/6\.0 MB\/s/.test(rate) && /s left/.test(rate), `progress: ${rate}`);
    await page.locator('[data-testid="transfer"][data-state="done"]').getByText('Sent').waitFor();
    assert((await card.getByRole('progressbar').count()) === 0, 'bar still shown when done');
    assert((await focusedTestId(page)) === 'composer', 'composer lost focus after picking');
  },

  'files: keyboard reaches the paperclip; Ctrl+Shift+A opens the dialog too': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Shift+Tab');
    const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert(label === 'Send files', `Shift+Tab from the composer reached ${label}`);
    const tip = await page.getByRole('button', { name: 'Send files' }).getAttribute('title');
    assert(tip?.includes('Ctrl+Shift+A'), `tooltip: ${tip}`);
    await fake(page, () => window.__parleyFake.willPick([{ name: 'one.txt', size: 100 }]));
    await page.keyboard.press('Enter');
    await page.getByTestId('transfer-name').getByText('one.txt').waitFor();
    await fake(page, () => window.__parleyFake.willPick([{ name: 'two.txt', size: 100 }]));
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Control+Shift+A');
    await page.getByTestId('transfer-name').getByText('two.txt').waitFor();
  },

  'files: a received file opens and shows in its folder through the backend': async (page, open, _srv, peer) => {
    await open();
    await createRoom(page);
    await connect(page, peer);
    const sum = await peer.sendsFile('photo.jpg', 800_000);
    const card = page.locator('[data-testid="transfer"][data-state="done"]');
    await card.getByText('Received').waitFor();
    if (peer.real) {
      // Opening it would start the desktop's viewer: check what the real
      // backend says it saved instead, and the saved bytes.
      const room = await page.getByTestId('room').getAttribute('data-room-id');
      const t = await poll(
        () => page.evaluate((id) => window.go.app.App.Transfers(id), room),
        (ts) => ts?.length === 1 && ts[0].state === 'done',
        'transfers',
      );
      assert(t[0].name === 'photo.jpg' && t[0].total === 800_000 && !t[0].outgoing, `transfer: ${JSON.stringify(t[0])}`);
      assert((await peer.hashOf(t[0].path)) === sum, 'the saved file differs from the sent one');
      return;
    }
    await card.getByRole('button', { name: 'Open photo.jpg' }).click();
    await card.getByRole('button', { name: 'Show photo.jpg in folder' }).click();
    const [opened, shown] = await fake(page, () => [window.__parleyFake.openedFiles, window.__parleyFake.shownInFolder]);
    const want = '/home/you/Downloads/Parley/photo.jpg';
    assert(opened.length === 1 && opened[0] === want, `opened: ${opened}`);
    assert(shown.length === 1 && shown[0] === want, `shown: ${shown}`);
  },

  'images: a received image shows a thumbnail; it opens in the viewer; Esc closes': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerSendsFile('beach.jpg', 400_000));
    const card = page.locator('[data-testid="transfer"][data-state="done"]');
    const thumb = card.getByRole('button', { name: 'View beach.jpg' });
    await thumb.waitFor();
    const w = await card.getByAltText('Preview of beach.jpg').evaluate((img) => img.complete && img.naturalWidth);
    assert(w === 48, `thumbnail did not decode (naturalWidth ${w})`);
    await thumb.click();
    const dlg = page.getByRole('dialog', { name: 'Image: beach.jpg' });
    await dlg.waitFor();
    await dlg.getByTestId('image-dims').getByText('4800 × 3200 (shown smaller)').waitFor();
    const first = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert(first === 'Close', `the viewer focused ${first}, not Close`);
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    const back = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert(back === 'View beach.jpg', `focus went to ${back}, not back to the thumbnail`);
    // Keyboard only: Enter on the thumbnail opens it; the original opens in the system viewer.
    await page.keyboard.press('Enter');
    await dlg.getByRole('button', { name: 'Open in image viewer' }).click();
    const opened = await fake(page, () => window.__parleyFake.openedFiles);
    assert(opened.length === 1 && opened[0] === '/home/you/Downloads/Parley/beach.jpg', `opened: ${opened}`);
    await dlg.getByRole('button', { name: 'Close' }).click();
    await dlg.waitFor({ state: 'detached' });
  },

  'images: a decompression bomb stays a file card with a clear note': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerSendsFile('bomb.png', 300));
    const note = page.getByTestId('image-note');
    await note.getByText('too large for Parley to preview').waitFor();
    assert((await note.getAttribute('data-code')) === 'IMAGE_TOO_LARGE', 'wrong code');
    assert((await page.getByTestId('thumbnail').count()) === 0, 'a bomb got a thumbnail');
    await page.getByRole('button', { name: 'Open bomb.png' }).waitFor();
  },

  'images: paste an image into the composer to send it; text pastes as before': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const paste = (arg) =>
      page.evaluate(({ b64, text, type }) => {
        const dt = new DataTransfer();
        if (b64 !== null) {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          dt.items.add(new File([bytes], 'image.png', { type }));
        }
        if (text) dt.setData('text/plain', text);
        const area = document.querySelector('[data-testid="composer"]');
        area.focus();
        const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
        area.dispatchEvent(ev);
        return ev.defaultPrevented;
      }, arg);
    assert(await paste({ b64: png, text: '', type: 'image/png' }), 'the image paste was not taken');
    const card = page.getByTestId('transfer').filter({ hasText: /pasted-\d{8}-\d{6}\.png/ });
    await card.waitFor();
    await card.getByText('Sent').waitFor();
    const src = await card.getByTestId('thumbnail').locator('img').getAttribute('src');
    assert(src === `data:image/png;base64,${png}`, `thumbnail src ${src?.slice(0, 40)}`);
    const pasted = await fake(page, () => window.__parleyFake.pasted);
    assert(pasted.length === 1, `pasted ${pasted}`);
    assert((await page.getByTestId('composer').inputValue()) === '', 'the image landed in the text');
    // Text: left to the field.
    assert(!(await paste({ b64: null, text: 'hello', type: '' })), 'a text paste was taken');
    // Bytes that are no image: a toast says so, nothing is sent.
    assert(await paste({ b64: btoa('not a picture'), text: '', type: 'image/png' }), 'a fake image paste was not taken');
    await page.getByTestId('toast').getByText('That is not a PNG, JPEG, GIF or WebP image.').waitFor();
    assert((await fake(page, () => window.__parleyFake.pasted)).length === 1, 'a non-image was sent');
    assert((await page.getByTestId('transfer').count()) === 1, 'extra cards');
  },

  'files: cancel a running transfer': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.willPick([{ name: 'huge.iso', size: 4_000_000_000 }]));
    await page.getByRole('button', { name: 'Send files' }).click();
    await page.locator('[data-testid="transfer"][data-state="active"]').waitFor();
    await page.getByRole('button', { name: 'Cancel sending huge.iso' }).click();
    await page.locator('[data-testid="transfer"][data-state="canceled"]').getByText('Canceled').waitFor();
    assert((await page.getByRole('button', { name: /Cancel sending/ }).count()) === 0, 'cancel button still shown');
  },

  'files: a damaged transfer says what happened and what to do': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => {
      const f = window.__parleyFake;
      f.failTransfer(f.peerSendsFile('contract.pdf', 90_000_000));
      f.willPick([{ name: 'mine.pdf', size: 90_000_000 }]);
    });
    const inErr = page.locator('[data-testid="transfer"][data-state="failed"] [data-testid="transfer-error"][data-code="TRANSFER_FAILED"]');
    await inErr.getByText('The file was damaged in transit and was not saved.').waitFor();
    assert((await inErr.innerText()).includes('Ask the other person to send it again.'), 'no next step for the receiver');
    await page.getByRole('button', { name: 'Send files' }).click();
    const id = await fake(page, () => window.__parleyFake.transferIds().at(-1));
    await fake(page, (i) => window.__parleyFake.failTransfer(i), id);
    const outErr = page.locator(`[data-testid="transfer"][data-id="${id}"] [data-testid="transfer-error"]`);
    await outErr.getByText('Send it again.').waitFor();
    await page.locator(`[data-testid="transfer"][data-id="${id}"]`).getByText('Not sent').waitFor();
  },

  'files: a big offer is asked; Accept receives, Esc declines': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerSendsFile('<b>film</b>.mov', 300_000_000));
    const dlg = page.getByRole('alertdialog', { name: 'Accept a large file?' });
    await dlg.getByText('<b>film</b>.mov').waitFor();
    await dlg.getByText('300 MB').waitFor();
    assert((await dlg.locator('b').count()) === 0, 'peer name rendered as HTML');
    await dlg.getByRole('button', { name: 'Accept' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.locator('[data-testid="transfer"][data-state="active"]').getByText('Receiving').waitFor();
    await fake(page, () => window.__parleyFake.peerSendsFile('second.mov', 500_000_000));
    await dlg.getByText('second.mov').waitFor();
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    const answers = await fake(page, () => window.__parleyFake.answers.map(([, a]) => a));
    assert(JSON.stringify(answers) === '[true,false]', `answers: ${JSON.stringify(answers)}`);
    await page.locator('[data-testid="transfer"][data-state="canceled"]').getByText('second.mov').waitFor();
  },

  'files: drop hint while dragging and after app:file-drop; Go knows the room in view': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    const id = await fake(page, () => window.__parleyFake.lastRoomId());
    let active = await fake(page, () => window.__parleyFake.activeRooms.at(-1));
    assert(active === id, `active room: ${active}`);
    const dt = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(['x'], 'a.txt'));
      return d;
    });
    await page.getByTestId('room').dispatchEvent('dragenter', { dataTransfer: dt });
    await page.getByTestId('drop-hint').getByText('Drop files to send them').waitFor();
    await page.getByTestId('room').dispatchEvent('dragleave', { dataTransfer: dt });
    await page.getByTestId('drop-hint').waitFor({ state: 'detached' });
    await fake(page, () => window.__parleyFake.dropFiles(['/home/you/a.txt', '/home/you/b.txt']));
    await page.getByTestId('drop-hint').getByText('Sending 2 files').waitFor();
    assert((await page.getByTestId('transfer').count()) === 2, 'dropped files have no cards');
    await page.getByTestId('drop-hint').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    active = await fake(page, () => window.__parleyFake.activeRooms.at(-1));
    assert(active === '', `active room at home: ${active}`);
  },

  'call: header buttons wait for the peer and say why': async (page, open) => {
    await open();
    await createRoom(page);
    for (const name of ['Start a voice call', 'Start a video call']) {
      const b = page.getByRole('button', { name });
      assert((await b.getAttribute('aria-disabled')) === 'true', `${name} not disabled`);
      assert((await b.getAttribute('title')) === 'Calls need the other person connected', `${name} tooltip`);
    }
    await page.getByRole('button', { name: 'Start a voice call' }).dispatchEvent('click');
    assert((await page.getByTestId('call').count()) === 0, 'a disabled button started a call');
    await connect(page);
    const b = page.getByRole('button', { name: 'Start a voice call' });
    assert((await b.getAttribute('aria-disabled')) === null, 'still disabled when connected');
    assert((await b.getAttribute('title')) === 'Voice call', `tooltip: ${await b.getAttribute('title')}`);
  },

  'call: voice call rings, peer accepts, timer runs, hang up says how long': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await page.getByRole('button', { name: 'Start a voice call' }).click();
    await waitCall(page, 'outgoing');
    await page.getByTestId('call-timer').getByText('Calling…').waitFor();
    assert((await page.getByRole('button', { name: 'Cancel call' }).count()) === 1, 'no cancel while ringing');
    const video = await page.getByRole('button', { name: 'Start a video call' }).getAttribute('aria-disabled');
    assert(video === 'true', 'second call possible during a call');
    await fake(page, () => window.__parleyFake.peerAnswers(false));
    await page.getByTestId('call-timer').getByText('Connecting…').waitFor();
    await waitCall(page, 'active');
    assert((await page.getByTestId('call').getAttribute('data-video')) === 'false', 'voice call marked as video');
    assert((await page.getByTestId('call-stage').count()) === 0, 'a video stage in a voice call');
    await page.getByTestId('call-timer').getByText('0:01').waitFor({ timeout: 3000 });
    await page.getByTestId('call-timer').getByText('0:02').waitFor({ timeout: 3000 });
    await page.getByRole('button', { name: 'Hang up' }).click();
    const ended = page.locator('[data-testid="call-ended"][data-code=""]');
    const t = await ended.innerText();
    assert((await focusedTestId(page)) === 'composer', 'focus lost with the hang-up button');
    assert(/Call ended · 0:0[2-4]/.test(t), `ended: ${t}`);
    await page.getByTestId('call').waitFor({ state: 'detached', timeout: 6000 });
  },

  'call: incoming video call rings; accept with video shows decoded remote video and the local preview': async (page, open, srv) => {
    await open(mediaQuery(srv));
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerCalls(true));
    const banner = page.getByTestId('incoming-call');
    await banner.getByText('Incoming video call').waitFor();
    assert((await focusedTestId(page)) === 'composer', 'the ring stole the focus');
    await banner.getByRole('button', { name: 'Accept with video' }).click();
    await banner.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'composer');
    await waitCall(page, 'active');
    await page.waitForFunction(() => window.__parleyCall?.mediaConnected === true);
    const RED = [220, 40, 40];
    const BLUE = [30, 90, 220];
    await startSource(page, srv, [
      { kind: 1, rgb: RED, w: 320, h: 240 },
      { kind: 2, rgb: BLUE, w: 160, h: 120 },
    ]);
    try {
      const remote = await canvasColour(page, 'remote-video');
      assert(near(remote, RED), `remote video colour ${remote}`);
      const local = await canvasColour(page, 'local-preview');
      assert(near(local, BLUE), `local preview colour ${local}`);
      const [rw, rh] = await page.evaluate(() => {
        const c = document.querySelector('[data-testid="remote-video"]');
        return [c.width, c.height];
      });
      assert(rw === 320 && rh === 240, `remote size ${rw}x${rh}`);
      // The preview is a small overlay inside the stage, bottom right.
      const stage = await page.getByTestId('call-stage').boundingBox();
      const pv = await page.getByTestId('local-preview').boundingBox();
      assert(pv.width < stage.width / 3, `preview too big: ${pv.width} of ${stage.width}`);
      assert(pv.x + pv.width > stage.x + stage.width * 0.7 && pv.y + pv.height > stage.y + stage.height * 0.7, 'preview not bottom-right');
      await page.waitForFunction(() => window.__parleyCall.media.audio.decoded > 5);
      // Several frames, however slowly a busy machine decodes them.
      await page.waitForFunction(() => window.__parleyCall.media.remote.frames > 2);
      const m = await page.evaluate(() => {
        const x = window.__parleyCall.media;
        return { remote: x.remote.frames, errors: x.remote.errors + x.local.errors + x.audio.errors };
      });
      assert(m.remote > 2 && m.errors === 0, `media: ${JSON.stringify(m)}`);
      // Dragged to the top left, the preview snaps into that corner.
      await page.mouse.move(pv.x + pv.width / 2, pv.y + pv.height / 2);
      await page.mouse.down();
      await page.mouse.move(stage.x + 60, stage.y + 40, { steps: 5 });
      await page.mouse.up();
      await page.locator('[data-testid="local-preview"][data-corner="tl"]').waitFor();
      // It glides there (a 0.15 s CSS transition): wait for it to arrive.
      await poll(
        () => page.getByTestId('local-preview').boundingBox(),
        (b) => b.x < stage.x + 30 && b.y < stage.y + 30,
        'preview not top-left',
      );
      // A damaged keyframe: the decoder fails, starts over at the next
      // keyframe, and the picture comes back.
      await page.evaluate(() => window.__sourceSend(1, true, Array.from({ length: 400 }, (_, i) => (i * 37) & 255)));
      await page.waitForFunction(() => window.__parleyCall.media.remote.errors > 0);
      const after = await page.evaluate(() => window.__parleyCall.media.remote.frames);
      await page.waitForFunction((n) => window.__parleyCall.media.remote.frames > n + 3, after);
      assert(near(await canvasColour(page, 'remote-video'), RED), 'no picture after a decoder error');
      // The window shrinks: the video scales with it (contain, no crop).
      await page.setViewportSize({ width: 700, height: 560 });
      const small = await page.getByTestId('remote-video').boundingBox();
      const stage2 = await page.getByTestId('call-stage').boundingBox();
      assert(small.width <= stage2.width + 1 && small.height <= stage2.height + 1, 'video overflows the stage');
      // The peer turns the camera off: their initial instead of the video.
      await fake(page, () => window.__parleyFake.peerCamera(false));
      await page.getByTestId('remote-avatar').waitFor();
    } finally {
      await page.evaluate(() => window.__stopSource?.());
    }
  },

  'call: share screen: the sharing bar with Stop and Ctrl+Shift+E; the peer’s screen fills the stage; no screen says why': async (page, open, srv) => {
    await activeVoiceCall(page, open, mediaQuery(srv));
    // Ours: the button, the bar, Stop.
    const share = page.getByRole('button', { name: 'Share screen' });
    assert((await share.getAttribute('aria-keyshortcuts')) === 'Control+Shift+E', 'no shortcut on Share screen');
    await share.click();
    // The picker: the entire screen first, focused.
    const picker = page.getByRole('dialog', { name: 'Share your screen' });
    await picker.getByRole('button', { name: /Entire screen/ }).click();
    await picker.waitFor({ state: 'detached' });
    const bar = page.getByTestId('screen-sharing');
    await bar.getByText('You are sharing your screen').waitFor();
    await bar.getByRole('button', { name: 'Stop' }).click();
    await bar.waitFor({ state: 'detached' });
    // The keyboard, from the message box: Ctrl+Shift+E, Enter shares the
    // entire screen (as before there was a choice); Ctrl+Shift+E stops.
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Control+Shift+E');
    await picker.waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-source') === 'screen:0');
    await page.keyboard.press('Enter');
    await bar.waitFor();
    assert((await fake(page, () => window.__parleyFake.sharedSource)) === 'screen:0', 'Enter did not share the entire screen');
    await page.keyboard.press('Control+Shift+E');
    await bar.waitFor({ state: 'detached' });

    // Theirs: a wide screen fills the stage, labelled, not cropped.
    await fake(page, () => window.__parleyFake.peerSharesScreen(true));
    await page.getByTestId('remote-screen').getByText('is sharing their screen').waitFor();
    await page.waitForFunction(() => window.__parleyCall?.mediaConnected === true);
    const GREEN = [40, 200, 60];
    await startSource(page, srv, [{ kind: 4, rgb: GREEN, w: 1280, h: 720 }], false);
    try {
      assert(near(await canvasColour(page, 'remote-video', 'screen'), GREEN), 'no screen on the stage');
      const [rw, rh] = await page.evaluate(() => {
        const c = document.querySelector('[data-testid="remote-video"]');
        return [c.width, c.height];
      });
      assert(rw === 1280 && rh === 720, `remote screen size ${rw}x${rh}`);
      const stage = await page.getByTestId('call-stage').boundingBox();
      const remote = await page.getByTestId('remote-video').boundingBox();
      assert(Math.abs(remote.width - stage.width) <= 1 && Math.abs(remote.height - stage.height) <= 1, 'the screen does not fill the stage');
    } finally {
      await page.evaluate(() => window.__stopSource?.());
    }
    await fake(page, () => window.__parleyFake.peerSharesScreen(false));
    await page.getByTestId('remote-screen').waitFor({ state: 'detached' });

    // No X11 screen here (a Wayland session): the notice says why, the call goes on.
    await fake(page, () => {
      window.__parleyFake.screenAvailable = false;
    });
    await share.click();
    const notice = page.locator('[data-testid="call-notice"][data-code="SCREEN_UNAVAILABLE"]');
    await notice.getByText('Your screen cannot be shared here.').waitFor();
    assert((await callState(page)) === 'active', 'the call did not go on');
    assert((await bar.count()) === 0, 'a sharing bar without a screen');
  },

  'call: share one window: the picker by keyboard (arrows, Esc, Enter); the window closing stops the share with a notice': async (page, open, srv) => {
    await activeVoiceCall(page, open, mediaQuery(srv));
    const picker = page.getByRole('dialog', { name: 'Share your screen' });
    const bar = page.getByTestId('screen-sharing');
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Control+Shift+E');
    await picker.waitFor();
    const titles = await picker.getByRole('button').allTextContents();
    assert(titles.length === 3 && /Entire screen/.test(titles[0]) && /Notes — Text Editor/.test(titles[1]) && /Terminal/.test(titles[2]), `picker lists ${JSON.stringify(titles)}`);
    // Esc closes it and gives the focus back to the message box.
    await page.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
    assert(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'composer'), 'focus not back in the composer');
    assert((await bar.count()) === 0, 'Esc shared something');
    // Down, Down, Up, Enter: the first window.
    await page.keyboard.press('Control+Shift+E');
    await picker.waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-source') === 'screen:0');
    for (const k of ['ArrowDown', 'ArrowDown', 'ArrowUp']) await page.keyboard.press(k);
    await page.keyboard.press('Enter');
    await bar.waitFor();
    assert((await fake(page, () => window.__parleyFake.sharedSource)) === 'window:0x1a00007', 'the window was not shared');
    await bar.getByText('You are sharing the window “Notes — Text Editor”').waitFor();
    // The window closes: sharing ends, the notice says so, the call goes on.
    await fake(page, () => window.__parleyFake.sharedWindowCloses());
    await bar.waitFor({ state: 'detached' });
    await page.locator('[data-testid="call-notice"][data-code="WINDOW_CLOSED"]').getByText('The window you shared was closed').waitFor();
    assert((await callState(page)) === 'active', 'the call did not go on');
  },

  'call: camera tile: the peer’s screen large, their camera a small tile in a corner; camera off ends the tile; stop returns to the camera': async (page, open, srv) => {
    await activeVoiceCall(page, open, mediaQuery(srv));
    await fake(page, () => {
      window.__parleyFake.peerCamera(true);
      window.__parleyFake.peerSharesScreen(true);
    });
    await page.getByTestId('remote-screen').getByText('is sharing their screen').waitFor();
    await page.waitForFunction(() => window.__parleyCall?.mediaConnected === true);
    const GREEN = [40, 200, 60];
    const RED = [220, 40, 40];
    // Go sends the screen as kind 4 and the camera (the tile) as kind 1.
    await startSource(page, srv, [
      { kind: 4, rgb: GREEN, w: 1280, h: 720 },
      { kind: 1, rgb: RED, w: 320, h: 240 },
    ], false);
    try {
      assert(near(await canvasColour(page, 'remote-video', 'screen'), GREEN), 'no screen on the stage');
      assert(near(await canvasColour(page, 'remote-tile', 'remote'), RED), 'no camera in the tile');
      const big = page.getByTestId('remote-video');
      const tile = page.getByTestId('remote-tile');
      assert((await big.getAttribute('aria-label')).endsWith('’s screen'), 'the stage is not labelled as a screen');
      assert((await tile.getAttribute('aria-label')).endsWith('’s camera'), 'the tile is not labelled as a camera');
      const [tw, th] = await page.evaluate(() => {
        const c = document.querySelector('[data-testid="remote-tile"]');
        return [c.width, c.height];
      });
      assert(tw === 320 && th === 240, `tile size ${tw}x${th}`);
      // Small, in the top right corner of the stage, over the screen.
      const stage = await page.getByTestId('call-stage').boundingBox();
      const tb = await tile.boundingBox();
      assert(tb.width < stage.width / 4, `tile too big: ${tb.width} of ${stage.width}`);
      assert(tb.x + tb.width > stage.x + stage.width * 0.8 && tb.y < stage.y + stage.height * 0.3, 'tile not top right');
      // Their camera off: the tile goes, the screen stays.
      await fake(page, () => window.__parleyFake.peerCamera(false));
      await tile.waitFor({ state: 'detached' });
      const shown = await page.evaluate(() => window.__parleyCall.media.screen.frames);
      await page.waitForFunction((n) => window.__parleyCall.media.screen.frames > n + 2, shown);
      assert(near(await canvasColour(page, 'remote-video', 'screen'), GREEN), 'the screen left with the camera');
      // They stop sharing with the camera on: the camera takes the stage again.
      await fake(page, () => {
        window.__parleyFake.peerCamera(true);
        window.__parleyFake.peerSharesScreen(false);
      });
      await page.getByTestId('remote-screen').waitFor({ state: 'detached' });
      await page.locator('[data-testid="remote-video"][data-shows="camera"]').waitFor();
      const before = await page.evaluate(() => window.__parleyCall.media.remote.frames);
      await page.waitForFunction((n) => window.__parleyCall.media.remote.frames > n + 2, before);
      assert(near(await canvasColour(page, 'remote-video'), RED), 'the camera is not back on the stage');
      const errors = await page.evaluate(() => {
        const x = window.__parleyCall.media;
        return x.remote.errors + x.screen.errors;
      });
      assert(errors === 0, `${errors} decoder errors`);
    } finally {
      await page.evaluate(() => window.__stopSource?.());
    }

    // Ours: camera on, then share: our screen is the preview, our camera a small tile.
    await page.getByRole('button', { name: 'Camera' }).click();
    await page.locator('[data-testid="call-camera"][aria-pressed="true"]').waitFor();
    await page.getByRole('button', { name: 'Share screen' }).click();
    await page.getByRole('dialog', { name: 'Share your screen' }).getByRole('button', { name: /Entire screen/ }).click();
    const mine = page.getByTestId('local-camera');
    await mine.waitFor();
    assert((await mine.getAttribute('aria-label')) === 'Your camera', 'our tile is not labelled');
    const BLUE = [40, 60, 220];
    const GREY = [128, 128, 128];
    await startSource(page, srv, [
      { kind: 2, rgb: GREY, w: 640, h: 360 },
      { kind: 5, rgb: BLUE, w: 160, h: 120 },
    ], false);
    try {
      assert(near(await canvasColour(page, 'local-camera', 'localCamera'), BLUE), 'no camera in our tile');
      assert(near(await canvasColour(page, 'local-preview'), GREY), 'no screen in our preview');
      const stage = await page.getByTestId('call-stage').boundingBox();
      const mb = await mine.boundingBox();
      assert(mb.width < stage.width / 4 && mb.x < stage.x + stage.width * 0.3, 'our tile is not small on the left');
    } finally {
      await page.evaluate(() => window.__stopSource?.());
    }
    // The camera button turns only the tile off; the share goes on.
    await page.getByRole('button', { name: 'Camera' }).click();
    await mine.waitFor({ state: 'detached' });
    await page.getByTestId('screen-sharing').waitFor();
  },

  'call: decline, peer declines, no answer': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerCalls(false));
    const banner = page.getByTestId('incoming-call');
    await banner.getByText('Incoming voice call').waitFor();
    await banner.getByRole('button', { name: 'Decline' }).click();
    await banner.waitFor({ state: 'detached' });
    assert((await page.getByTestId('call').count()) === 0, 'call area after declining');
    assert((await fake(page, () => window.__parleyFake.callOf())) === undefined, 'call not ended in the backend');

    await page.getByRole('button', { name: 'Start a voice call' }).click();
    await waitCall(page, 'outgoing');
    await fake(page, () => window.__parleyFake.peerDeclines());
    await page.locator('[data-testid="call-ended"][data-code="DECLINED"]').getByText('Declined').waitFor();
    await page.getByTestId('call-ended').getByRole('button', { name: 'Close' }).click();
    await page.getByTestId('call').waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Start a video call' }).click();
    await waitCall(page, 'outgoing');
    await fake(page, () => window.__parleyFake.callFails('NO_ANSWER'));
    await page.locator('[data-testid="call-ended"][data-code="NO_ANSWER"]').getByText('No answer').waitFor();
  },

  'call: the peer hangs up; the peer leaving ends the call': async (page, open) => {
    await activeVoiceCall(page, open);
    await fake(page, () => window.__parleyFake.peerHangsUp());
    await page.locator('[data-testid="call-ended"][data-code=""]').getByText(/Call ended · 0:0\d/).waitFor();
    await page.getByRole('button', { name: 'Start a voice call' }).click();
    await waitCall(page, 'outgoing');
    await fake(page, () => window.__parleyFake.peerAnswers());
    await waitCall(page, 'active');
    await fake(page, () => window.__parleyFake.peerLeaves());
    await page.locator('[data-testid="call-ended"][data-code="PEER_LEFT"]').getByText('the other person left').waitFor();
  },

  'call: mute and camera by button and by keyboard; voice switches to video': async (page, open) => {
    await activeVoiceCall(page, open);
    const mute = page.getByRole('button', { name: 'Mute' });
    assert((await mute.getAttribute('title')).includes('Ctrl+Shift+M'), 'mute tooltip without its shortcut');
    await mute.click();
    await page.locator('[data-testid="call-mute"][aria-pressed="true"]').waitFor();
    assert((await fake(page, () => window.__parleyFake.callOf().micMuted)) === true, 'backend not muted');
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Control+Shift+M');
    await page.locator('[data-testid="call-mute"][aria-pressed="false"]').waitFor();
    assert((await fake(page, () => window.__parleyFake.callOf().micMuted)) === false, 'backend still muted');
    assert((await focusedTestId(page)) === 'composer', 'shortcut moved the focus');
    // Camera on in a voice call: it becomes a video call with a preview.
    const cam = page.getByRole('button', { name: 'Camera' });
    assert((await cam.getAttribute('title')).includes('switch to video'), `camera tooltip: ${await cam.getAttribute('title')}`);
    await cam.click();
    await page.locator('[data-testid="call"][data-video="true"]').waitFor();
    await page.locator('[data-testid="call-camera"][aria-pressed="true"]').waitFor();
    await page.getByTestId('call-stage').waitFor();
    await page.keyboard.press('Control+Shift+O');
    await page.locator('[data-testid="call-camera"][aria-pressed="false"]').waitFor();
    assert((await fake(page, () => window.__parleyFake.callOf().localVideo)) === false, 'camera still on in the backend');
    // Peer mutes: shown.
    await fake(page, () => window.__parleyFake.peerMutes(true));
    await page.getByTestId('remote-muted').waitFor();
    // Minimise and back; larger hides the messages, composer stays.
    await page.getByRole('button', { name: 'Minimize video' }).click();
    await page.getByTestId('call-stage').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Show video' }).click();
    await page.getByRole('button', { name: 'Larger video' }).click();
    await page.getByRole('log').waitFor({ state: 'hidden' });
    assert(await page.getByTestId('composer').isVisible(), 'composer hidden in the large layout');
    await page.getByRole('button', { name: 'Show the chat' }).click();
    await page.getByRole('log').waitFor();
    // Ctrl+Shift+H hangs up.
    await page.keyboard.press('Control+Shift+H');
    await waitCall(page, 'ended');
  },

  'call: incoming call answered by keyboard (Ctrl+Shift+Y), declined by Ctrl+Shift+H': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => window.__parleyFake.peerCalls(false));
    const banner = page.getByTestId('incoming-call');
    await banner.waitFor();
    const tips = await banner.getByRole('button').evaluateAll((bs) => bs.map((b) => b.title).join(' | '));
    for (const k of ['Ctrl+Shift+H', 'Ctrl+Shift+Y', 'Ctrl+Shift+O']) assert(tips.includes(k), `banner tooltips lack ${k}: ${tips}`);
    await page.keyboard.press('Control+Shift+Y');
    await waitCall(page, 'active');
    assert((await page.getByTestId('call').getAttribute('data-video')) === 'false', 'accepted with video');
    await page.keyboard.press('Control+Shift+H');
    await waitCall(page, 'ended');
    await fake(page, () => window.__parleyFake.peerCalls(true));
    await banner.waitFor();
    await page.keyboard.press('Control+Shift+H');
    await banner.waitFor({ state: 'detached' });
    assert((await fake(page, () => window.__parleyFake.callOf())) === undefined, 'not declined');
    // The caller gives up: a missed call is mentioned.
    await fake(page, () => window.__parleyFake.peerCalls(false));
    await banner.waitFor();
    await fake(page, () => window.__parleyFake.peerHangsUp());
    await banner.waitFor({ state: 'detached' });
    await page.getByTestId('toast').getByText(/^Missed call from Room /).waitFor();
  },

  'call: no camera still allows a voice call; busy device and denied permission explained': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => {
      window.__parleyFake.devices.cameras = [];
    });
    await page.getByRole('button', { name: 'Start a video call' }).click();
    const notice = page.locator('[data-testid="call-notice"][data-code="NO_CAMERA"]');
    await notice.getByText('No camera found.').waitFor();
    assert((await notice.innerText()).includes('sound only'), 'NO_CAMERA without next step');
    await fake(page, () => window.__parleyFake.peerAnswers(false));
    await waitCall(page, 'active');
    assert(await notice.isVisible(), 'notice gone while the call goes on');
    await page.getByRole('button', { name: 'Devices' }).click();
    await page.getByTestId('no-camera').getByText('No camera found').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('call-devices').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Hang up' }).click();
    await waitCall(page, 'ended');
    await page.getByTestId('call-ended').getByRole('button', { name: 'Close' }).click();

    for (const [code, words] of [
      ['DEVICE_BUSY', 'in use by another app'],
      ['PERMISSION_DENIED', 'may not use the camera or microphone'],
      ['NO_MICROPHONE', 'No microphone found.'],
    ]) {
      await fake(page, (c) => window.__parleyFake.failNext('startCall', c), code);
      await page.getByRole('button', { name: 'Start a voice call' }).click();
      await page.locator(`[data-testid="call-notice"][data-code="${code}"]`).getByText(words).waitFor();
    }
    // A failure Go reports as the call's end reads the same.
    await fake(page, () => {
      window.__parleyFake.devices.microphones = [];
    });
    await page.getByRole('button', { name: 'Start a voice call' }).click();
    await page.locator('[data-testid="call-ended"][data-code="NO_MICROPHONE"]').getByText('No microphone found.').waitFor();
  },

  'call: the newest message stays in view when the video opens above the chat': async (page, open) => {
    await open();
    await createRoom(page);
    await connect(page);
    await fake(page, () => {
      for (let i = 0; i < 40; i++) window.__parleyFake.peerSays(`line ${i}`);
    });
    await page.getByTestId('message').getByText('line 39').waitFor();
    await fake(page, () => window.__parleyFake.peerCalls(true));
    await page.getByRole('button', { name: 'Accept with video' }).click();
    await page.getByTestId('call-stage').waitFor();
    // The list shrinks as the stage takes its place; a resize observer then
    // scrolls it back to the newest: wait for that.
    await poll(
      async () => ({
        log: await page.getByRole('log').boundingBox(),
        last: await page.getByTestId('message').filter({ hasText: 'line 39' }).boundingBox(),
      }),
      ({ log, last }) => last.y + last.height <= log.y + log.height + 1 && last.y >= log.y,
      'last message out of view',
    );
    assert((await page.getByText('new message').count()) === 0, 'a "new message" hint for messages already read');
  },

  'call: chat and files go on during a call; devices can be chosen': async (page, open) => {
    await activeVoiceCall(page, open);
    const box = page.getByTestId('composer');
    await box.fill('still typing during the call');
    await box.press('Enter');
    await page.locator('[data-testid="message"][data-state="delivered"]').getByText('still typing during the call').waitFor();
    await fake(page, () => window.__parleyFake.peerSays('I hear you'));
    await page.getByTestId('message').getByText('I hear you').waitFor();
    await fake(page, () => window.__parleyFake.peerSendsFile('notes.txt', 1000));
    await page.locator('[data-testid="transfer"][data-state="done"]').getByText('notes.txt').waitFor();
    await waitCall(page, 'active');
    await page.getByRole('button', { name: 'Devices' }).click();
    const dlg = page.getByRole('dialog', { name: 'Call devices' });
    await dlg.getByLabel('Microphone').selectOption('mic-headset');
    await dlg.getByLabel('Speaker').selectOption('spk-headset');
    const choices = await fake(page, () => window.__parleyFake.deviceChoices);
    assert(JSON.stringify(choices.at(-1)) === '["mic-headset","","spk-headset"]', `choices: ${JSON.stringify(choices)}`);
    await page.keyboard.press('Escape');
    const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    assert(label === 'Devices', `focus after Esc: ${label}`);
    // Going home keeps the call; a pill leads back.
    await page.getByRole('button', { name: 'Back to rooms' }).click();
    await page.getByTestId('call-away').getByRole('button', { name: 'Back to call' }).click();
    await waitCall(page, 'active');
  },

  'without a backend and without ?fake=1 the page says why': async (page, open) => {
    await open(null);
    await page.getByRole('alert').getByText('backend is not available').waitFor({ timeout: 8000 });
  },
};
