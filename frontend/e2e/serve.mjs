// A tiny static server for dist/ on 127.0.0.1 (no dependencies), with a
// WebSocket relay at /media standing in for Go's media hub (ws-relay.mjs).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { attachRelay, MEDIA_TOKEN } from './ws-relay.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** Serves `dir` on a free loopback port; resolves to { url, mediaUrl, mediaToken, relay, close }. */
export function serve(dir) {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  const relay = attachRelay(server);
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      ok({
        url: `http://127.0.0.1:${port}/`,
        mediaUrl: `ws://127.0.0.1:${port}/media`,
        mediaToken: MEDIA_TOKEN,
        relay,
        close: () => {
          relay.close();
          return new Promise((done) => server.close(done));
        },
      });
    });
  });
}
