// Public surface of the tunnel for the engine's composition root (cli/wiring.ts): keygen
// and one Component factory each for the link, the port forwards and the SOCKS5 listener.
import type { ResolvedConfig } from '../config/types.ts';
import { TunnelComponent } from './component.ts';
import { ForwardsComponent, SocksComponent } from '../proxy/listeners.ts';

export { generateCredentials, certPin, type GeneratedCredentials } from './credentials.ts';
export { TunnelComponent } from './component.ts';
export { ForwardsComponent, SocksComponent } from '../proxy/listeners.ts';

/** The edge↔core link (chunk store, TLS, streams). Budget: memory.split.chunkMemory. */
export function createTunnel(c: ResolvedConfig): TunnelComponent {
  const t = c.tunnel;
  return new TunnelComponent({
    role: c.role,
    stateDir: c.stateDir,
    listen: t.listen,
    connect: t.connect,
    failbackS: t.failbackS,
    connectTimeoutMs: t.connectTimeoutS * 1000,
    auth: t.auth,
    diskMaxBytes: c.caches.chunkDisk.maxSize,
    chunkSize: t.chunkSizeBytes ?? 8192,
    windowBytes: Math.max(t.streamWindowBytes ?? 32768, 4 * (t.chunkSizeBytes ?? 8192)),
    backoffMs: c.supervisor
      ? {
          initial: Math.max(100, c.supervisor.backoffMs.initial),
          max: Math.max(1000, c.supervisor.backoffMs.max),
        }
      : undefined,
  });
}

/** Port forwards this role listens for (edge: edge-to-core; core: core-to-edge). */
export function createForwards(c: ResolvedConfig): ForwardsComponent | undefined {
  const mine = c.role === 'edge' ? 'edge-to-core' : 'core-to-edge';
  return c.forwards.some((f) => f.direction === mine) ? new ForwardsComponent(c.role, c.forwards) : undefined;
}

/** SOCKS5 listener (when socks.listen is set). */
export function createSocks(c: ResolvedConfig): SocksComponent | undefined {
  return c.socks.listen ? new SocksComponent(c.socks.listen) : undefined;
}
