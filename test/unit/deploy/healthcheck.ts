// Runs a container healthcheck command (an exec-form argv starting with `node`) on this machine against
// a loopback HTTP server, so the image's and compose's checks are proven to pass and fail as meant.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthServer {
  port: number;
  /** Paths requested so far. */
  seen: string[];
  close(): Promise<void>;
}

/** A loopback server answering /healthz with `status`. */
export async function healthServer(status: number): Promise<HealthServer> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(req.url === '/healthz' ? status : 404, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, read, released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `argv` (["node", "-e", …]) with this node and PORT set; resolves with the exit code. Bounded by
 * a timeout so a check that hangs fails the test instead of stalling it.
 */
export function runHealthcheck(argv: readonly string[], port: number): Promise<number> {
  if (argv[0] !== 'node') throw new Error(`healthcheck does not start with node: ${JSON.stringify(argv)}`);
  return new Promise((resolve) => {
    execFile(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, timeout: 10_000 }, (error) => {
      if (!error) return resolve(0);
      const code = (error as NodeJS.ErrnoException & { code?: number | string }).code;
      resolve(typeof code === 'number' ? code : -1);
    });
  });
}
