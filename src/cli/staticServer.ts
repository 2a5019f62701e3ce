/**
 * A minimal static file server for the benchmark (Node only): the built harness page from one folder, and any
 * number of extra folders mounted under URL prefixes (the model packages being measured). Same origin for all,
 * as the app's Content Security Policy requires.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  // WebAssembly.instantiateStreaming refuses any other type.
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface StaticServer {
  /** e.g. http://127.0.0.1:41234/ */
  origin: string;
  close(): Promise<void>;
}

/**
 * @param root folder served at /
 * @param mounts URL prefix (like '/bench-models/0/') -> folder
 * @param port 0 (default) picks a free port
 * @param headers extra response headers on every file (e.g. COOP/COEP for a cross-origin isolated page)
 */
export async function startStaticServer(
  root: string,
  mounts: Record<string, string> = {},
  port = 0,
  headers: Record<string, string> = {},
): Promise<StaticServer> {
  const table = Object.entries(mounts).map(([prefix, folder]) => ({
    prefix: prefix.endsWith('/') ? prefix : `${prefix}/`,
    folder: resolve(folder),
  }));
  const server: Server = createServer(async (request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const mount = table.find((m) => pathname.startsWith(m.prefix));
    const base = mount ? mount.folder : resolve(root);
    const relative = normalize(mount ? pathname.slice(mount.prefix.length) : pathname.slice(1));
    let file = join(base, relative);
    if (file !== base && !file.startsWith(base + sep)) {
      response.writeHead(403).end('outside the served folder');
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      await stat(file);
    } catch {
      response.writeHead(404).end(`not found: ${pathname}`);
      return;
    }
    response.writeHead(200, {
      ...headers,
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolveListen) => server.listen(port, '127.0.0.1', resolveListen));
  const address = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((resolveClose, reject) => server.close((error) => (error ? reject(error) : resolveClose()))),
  };
}
