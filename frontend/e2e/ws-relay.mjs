// A minimal WebSocket relay (RFC 6455, no dependencies) standing in for Go's
// media hub in the browser flows: the UI connects to
// /media?token=T&room=R like it would to Go; a test page connects with
// &role=source and every binary message it sends goes to the room's UI
// connections. A wrong token is refused with 403, like the hub.
import { createHash } from 'node:crypto';

export const MEDIA_TOKEN = 'e2e-media-token';

function frame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    if (len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
  }
  return Buffer.concat([head, payload]);
}

/** Parses client frames from buf; returns [messages, rest]. Ignores fragmentation (test peers never fragment). */
function parse(buf) {
  const out = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const need = p + (masked ? 4 : 0) + len;
    if (buf.length < need) break;
    let data = buf.subarray(p + (masked ? 4 : 0), need);
    if (masked) {
      const mask = buf.subarray(p, p + 4);
      data = Buffer.from(data);
      for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
    }
    out.push({ opcode: b0 & 0x0f, data });
    off = need;
  }
  return [out, buf.subarray(off)];
}

/** Attaches the relay to an http.Server; returns { stats(room) }. */
export function attachRelay(server) {
  const rooms = new Map(); // room -> Set of UI sockets
  const counts = new Map(); // room -> frames relayed
  server.on('upgrade', (req, socket) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/media') return socket.destroy();
    if (u.searchParams.get('token') !== MEDIA_TOKEN) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const room = u.searchParams.get('room') ?? '';
    const source = u.searchParams.get('role') === 'source';
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    if (!source) {
      if (!rooms.has(room)) rooms.set(room, new Set());
      rooms.get(room).add(socket);
      socket.write(frame(1, Buffer.from(JSON.stringify({ stats: 'hello' })))); // text: stats, ignored by the UI
    }
    let rest = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const [msgs, left] = parse(Buffer.concat([rest, chunk]));
      rest = left;
      for (const m of msgs) {
        if (m.opcode === 8) {
          socket.end(frame(8, Buffer.alloc(0)));
        } else if (m.opcode === 9) {
          socket.write(frame(10, m.data));
        } else if (m.opcode === 2 && source) {
          const out = frame(2, m.data);
          counts.set(room, (counts.get(room) ?? 0) + 1);
          for (const s of rooms.get(room) ?? []) s.write(out);
        }
      }
    });
    const drop = () => rooms.get(room)?.delete(socket);
    socket.on('close', drop);
    socket.on('error', drop);
  });
  return {
    subscribers: (room) => rooms.get(room)?.size ?? 0,
    relayed: (room) => counts.get(room) ?? 0,
    close: () => {
      for (const set of rooms.values()) for (const s of set) s.destroy();
    },
  };
}
