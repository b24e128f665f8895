/** Loopback HTTP servers for tests: listen first (so the URL is known), attach the handler later. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  port: number;
  server: http.Server;
  /** Sets (or replaces) the request handler. */
  handle(handler: http.RequestListener): void;
  close(): Promise<void>;
}

export async function startServer(handler?: http.RequestListener): Promise<TestServer> {
  let current: http.RequestListener = handler ?? ((_req, res) => res.writeHead(503).end('not ready'));
  const server = http.createServer((req, res) => current(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    handle(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
