// Child process of the WAN step of `npm run bench:tunnel` (tunnel-wan.ts). Started as
//   relay   the emulated WAN (tunnel-lib.ts wanRelay): one relay per message {target}
//   core    a core TunnelComponent
//   sink    the hash sink (the target server the data is for)
// so the link, the data centre, its server and the branch each have their own event loop,
// as they do on real machines. (With the sink inside the core process, hashing the 16 MiB
// competed with the core's decoding and added ~50 ms after the last byte under load.) In one process the edge's encoding starved the relay's timers and the
// core's reads (the first DATA frame reached the core ~150 ms after it was written).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TunnelComponent } from '../../engine/src/tunnel/component.ts';
import { createLogger } from '../../engine/src/log/logger.ts';
import type { ComponentContext } from '../../engine/src/supervisor/component.ts';
import { hashSink, wanRelay, type Relay } from './tunnel-lib.ts';

export type PeerMsg =
  | { kind: 'relay'; target: number; bitsPerS: number; oneWayMs: number }
  | { kind: 'shaping'; port: number; on: boolean }
  | { kind: 'stop' };

export function benchCtx(budget: number): ComponentContext {
  return {
    log: createLogger({ level: 'warn' }),
    signal: new AbortController().signal,
    budgetBytes: () => budget,
    budgets: () => ({}) as never,
    unconfigured: () => {},
    degraded: () => {},
    healthy: () => {},
    fail: (e) => {
      throw e;
    },
  } as ComponentContext;
}

async function relayMain(): Promise<void> {
  const relays = new Map<number, Relay>();
  process.on('message', async (m: PeerMsg) => {
    if (m.kind === 'relay') {
      const r = await wanRelay(m.target, m.bitsPerS, m.oneWayMs);
      relays.set(r.port, r);
      process.send!({ port: r.port });
    } else if (m.kind === 'shaping') {
      relays.get(m.port)!.shaping = m.on;
      process.send!({ port: m.port });
    } else {
      for (const r of relays.values()) r.close();
      process.exit(0);
    }
  });
  process.send!({ ready: true });
}

async function sinkMain(): Promise<void> {
  const sink = await hashSink();
  process.on('message', (m: PeerMsg) => {
    if (m.kind === 'stop') {
      sink.close();
      process.exit(0);
    }
  });
  process.send!({ ready: true, sinkPort: sink.port });
}

async function coreMain(keyDir: string): Promise<void> {
  const auth = { keyDir, psk: null, cert: null, key: null, pin: null };
  const stateDir = mkdtempSync(join(tmpdir(), 'ewT-bench-'));
  const core = new TunnelComponent({
    role: 'core',
    stateDir,
    listen: '127.0.0.1:0',
    connect: null,
    auth,
    diskMaxBytes: 512 << 20,
  });
  await core.start(benchCtx(256 << 20));
  process.on('message', async (m: PeerMsg) => {
    if (m.kind === 'stop') {
      await core.stop(100);
      rmSync(stateDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send!({ ready: true, corePort: core.address()!.port });
}

// Only as a forked child (tunnel-wan.ts imports the types and benchCtx from here too).
const role = process.env.EWT_WAN_PEER;
if (role === 'relay') void relayMain();
else if (role === 'core') void coreMain(process.argv[2]);
else if (role === 'sink') void sinkMain();
