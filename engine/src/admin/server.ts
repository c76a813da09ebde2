// The admin endpoint as a supervised Component: /healthz (process alive), /readyz (200 iff
// admin serves and no component failed), /metrics (Prometheus text), /status (JSON) and the
// status page at "/". When it listens beyond loopback every path except /healthz and /readyz
// needs "Authorization: Bearer <token>" (docs/contract.md, "Admin endpoint"). Connections are
// tracked so stop() closes keep-alive sockets instead of waiting for them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Component, ComponentContext } from '../supervisor/component.ts';
import { hostOf, isLoopback } from '../config/load.ts';
import { renderMetrics } from './metrics.ts';
import { STATUS_PAGE } from './page.ts';
import { HISTORY_STEP_MS, type StatusSource } from './status.ts';

export interface AdminOptions {
  listen: string;
  token: string | null;
  source: StatusSource;
  /** The supervisor's view: false while any component is failed. */
  ready: () => boolean;
}

const PUBLIC = new Set(['/healthz', '/readyz']);

/**
 * Bounds on what clients can make the admin endpoint hold. Node's HTTP server already stops
 * reading a connection whose response is unsent (pipelined requests wait in the kernel, not
 * here: engine/test/admin.test.ts pipelines 20,000 and sees a bounded number served); on top
 * of that the number of connections is capped and a connection moving no byte is closed.
 */
export const ADMIN_LIMITS = { maxConnections: 32, idleMs: 30_000, headersMs: 10_000, requestMs: 30_000 };

function sameToken(given: string, want: string): boolean {
  // compare digests so the comparison time does not depend on the length or prefix matched
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

export function createAdmin(
  opts: AdminOptions,
): Component & { address(): { host: string; port: number } | null } {
  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;
  const sockets = new Set<Socket>();
  const guarded = !isLoopback(hostOf(opts.listen));
  let requests = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    if (guarded && !PUBLIC.has(path)) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !opts.token || !sameToken(m[1].trim(), opts.token)) {
        return send(401, 'text/plain', 'admin token required: send "Authorization: Bearer <admin.token>"\n', {
          'www-authenticate': 'Bearer realm="edgewan"',
        });
      }
    }
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz': {
        const ready = opts.ready();
        return send(
          ready ? 200 : 503,
          'text/plain',
          ready ? 'ready\n' : 'not ready: a component failed (see /status)\n',
        );
      }
      case '/metrics':
        return send(
          200,
          'text/plain; version=0.0.4; charset=utf-8',
          renderMetrics([
            ...opts.source.metrics(),
            {
              name: 'admin_requests_total',
              help: 'Requests served by the admin endpoint.',
              type: 'counter',
              value: requests,
            },
          ]),
        );
      case '/status':
        return send(200, 'application/json', `${JSON.stringify(opts.source.status(), null, 2)}\n`);
      case '/':
        return send(200, 'text/html; charset=utf-8', STATUS_PAGE, {
          // the page may talk only to this endpoint: no external request is even possible
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
        });
      default:
        return send(404, 'text/plain', 'not found: /healthz /readyz /metrics /status /\n');
    }
  };

  return {
    name: 'admin',
    async start(ctx: ComponentContext) {
      const srv = createServer(
        { headersTimeout: ADMIN_LIMITS.headersMs, requestTimeout: ADMIN_LIMITS.requestMs },
        handle,
      );
      srv.maxConnections = ADMIN_LIMITS.maxConnections;
      srv.setTimeout(ADMIN_LIMITS.idleMs, (s) => s.destroy());
      server = srv;
      srv.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      const i = opts.listen.lastIndexOf(':');
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: hostOf(opts.listen), port: Number(opts.listen.slice(i + 1)) }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      // a later server error (e.g. EMFILE) is a component failure: restart with backoff
      srv.on('error', (e) => ctx.fail(e));
      ctx.log.info('admin listening', { address: srv.address(), tokenRequired: guarded });
      opts.source.sample();
      timer = setInterval(() => opts.source.sample(), HISTORY_STEP_MS);
      timer.unref();
    },
    async stop(graceMs: number) {
      if (timer) clearInterval(timer);
      const srv = server;
      server = undefined;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(
          () => {
            for (const s of sockets) s.destroy();
            resolve();
          },
          Math.min(graceMs, 1000),
        );
        srv.close(() => {
          clearTimeout(t);
          resolve();
        });
        srv.closeIdleConnections();
      });
    },
    status() {
      const a = server?.address();
      return {
        listen: opts.listen,
        port: a && typeof a === 'object' ? a.port : null,
        tokenRequired: guarded,
        requests,
      };
    },
    address() {
      const a = server?.address();
      return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
    },
  };
}
