// Getting the heap cap to V8. Flags on a SEA's command line never reach V8 and
// v8.setFlagsFromString at run time changes nothing (docs/platform-notes.md §7); only NODE_OPTIONS read at
// process start works. So when NODE_OPTIONS has no --max-old-space-size, `run` starts itself
// again with it set: process.execve where the runtime has it (Node >= 22.15: a true exec, no
// second process), else a child that inherits stdio, receives forwarded signals and whose exit
// code becomes ours (costs the parent's RSS, measured in docs/config.md).
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { heapFlags } from '../../contract.ts';
import { hasHeapFlag } from './policy.ts';

export const REEXEC_MARK = 'EDGEWAN_REEXECED';

/** argv (without the executable) that starts this same program again. */
export function selfArgs(): string[] {
  // In a SEA, argv[1] repeats the executable as it was invoked (relative, or via a symlink);
  // for `node bundle.cjs` it is the script and execArgv holds node's own flags (e.g.
  // --import tsx in development). node:sea is missing on Node 20.11, so compare real paths.
  if (sameFile(process.argv[1], process.execPath)) return process.argv.slice(2);
  return [...process.execArgv, ...process.argv.slice(1)];
}

function sameFile(a: string | undefined, b: string): boolean {
  if (!a) return false;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * NODE_OPTIONS flags for a heap cap, as the package contract (engine/contract.ts) writes them
 * and every init script and unit computes them. The young generation comes on top of the old
 * space: Node 24 reserves up to 3 x 64 MiB of semi-spaces by default (measured:
 * heap_size_limit = old space + 192 MiB), which alone exceeds a 128 MiB container, so the
 * semi-space is scaled too; at a 96 MiB limit, 1 instead of 3 MiB lowered the tunnel's
 * 1,000-stream VmHWM by 6–7 MB with less CPU, not more (docs/tunnel.md).
 */
export { heapFlags };

export function needsReexec(env: NodeJS.ProcessEnv): boolean {
  return !hasHeapFlag(env.NODE_OPTIONS) && env[REEXEC_MARK] !== '1';
}

/**
 * Re-run with the heap flag. Resolves with the child's exit code (wrapper mode); never
 * resolves when execve replaced the process.
 */
export function reexecWithHeapCap(
  heapCapMiB: number,
  onSignalForwarded?: (sig: string) => void,
): Promise<number> {
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${heapFlags(heapCapMiB)}`.trim(),
    [REEXEC_MARK]: '1',
  };
  const args = selfArgs();
  const execve = (
    process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }
  ).execve;
  if (typeof execve === 'function') {
    execve(process.execPath, [process.execPath, ...args], env);
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => {
      onSignalForwarded?.(sig);
      child.kill(sig);
    };
    const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    for (const s of sigs) process.on(s, forward);
    child.on('error', () => resolve(70));
    child.on('exit', (code, signal) => {
      for (const s of sigs) process.off(s, forward);
      resolve(code ?? (signal === 'SIGKILL' ? 137 : 128 + 15));
    });
  });
}
