// Test-only fault injection, driven by EDGEWAN_TEST_FAIL (never set in shipped configs; the
// schema has no field for it). Value: "NAME[:MODE[:AFTER_MS[:TIMES]]]".
//   MODE start  start() rejects (default)            run    ctx.fail() AFTER_MS after start
//        throw  an uncaught exception in a timer of the component AFTER_MS after start
//   TIMES: fail only the first TIMES starts (default: every start).
// A wired component named NAME is wrapped; otherwise a stand-in component NAME is added.
// Used by the restart/escalation tests (test/integration/engine-*.test.ts).
import type { Component, ComponentContext } from './component.ts';

export interface FaultSpec {
  name: string;
  mode: 'start' | 'run' | 'throw';
  afterMs: number;
  times: number;
}

export function parseFaultSpec(v: string | undefined): FaultSpec | undefined {
  if (!v) return undefined;
  const [name, mode = 'start', after = '0', times = 'Infinity'] = v.split(':');
  if (!name || !['start', 'run', 'throw'].includes(mode)) return undefined;
  return { name, mode: mode as FaultSpec['mode'], afterMs: Number(after) || 0, times: Number(times) };
}

export function standIn(name: string): Component {
  return { name, async start() {}, async stop() {}, status: () => ({ standIn: true }) };
}

export function withFault(inner: Component, spec: FaultSpec): Component {
  let starts = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    ...inner,
    name: inner.name,
    async start(ctx: ComponentContext) {
      starts += 1;
      const armed = starts <= spec.times;
      if (armed && spec.mode === 'start') {
        throw Object.assign(new Error(`injected start failure #${starts} (EDGEWAN_TEST_FAIL)`), {
          code: 'EDGEWAN_ERR_TEST_FAULT',
        });
      }
      await inner.start(ctx);
      if (!armed) return;
      timer = setTimeout(() => {
        const err = Object.assign(new Error(`injected ${spec.mode} failure #${starts} (EDGEWAN_TEST_FAIL)`), {
          code: 'EDGEWAN_ERR_TEST_FAULT',
        });
        if (spec.mode === 'run') ctx.fail(err);
        else throw err;
      }, spec.afterMs);
    },
    async stop(graceMs: number) {
      if (timer) clearTimeout(timer);
      await inner.stop(graceMs);
    },
    status: inner.status ? () => inner.status!() : undefined,
    metrics: inner.metrics ? () => inner.metrics!() : undefined,
    resize: inner.resize ? (b: number) => inner.resize!(b) : undefined,
  };
}
