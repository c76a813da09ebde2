// The engine ↔ package contract (docs/contract.md, "Process contract" and "Files on
// devices"): the values a package's service manager and the engine must agree on, in one
// pure module (no imports, no I/O) that the engine and the targets can both import. It lives
// beside engine/src, not in it, so the builder imports it without importing engine source.
// The engine imports heap cap, heap flags and exit codes from here; test/unit/contract.test.ts
// checks that, the systemd unit, the procd init script and the OCI image against it.

const MIB = 1024 * 1024;

/** Heap cap in MiB for a memory limit in bytes: ⌊0.5 × limit⌋. */
export function heapCapMiB(limitBytes: number): number {
  return Math.floor((0.5 * limitBytes) / MIB);
}

/**
 * NODE_OPTIONS flags for a heap cap: old space = the cap, young generation scaled with it
 * (⌊cap / 16⌋ MiB up to 16, 1 MiB below a 64 MiB cap) because Node 24 would otherwise add up
 * to 3 × 64 MiB of semi-spaces on top.
 */
export function heapFlags(capMiB: number): string {
  const semi = capMiB < 64 ? 1 : Math.min(16, Math.floor(capMiB / 16));
  return `--max-old-space-size=${capMiB} --max-semi-space-size=${semi}`;
}

/** The smallest heap cap a package accepts (service.memoryMax of at least 32 MiB). */
export const MIN_HEAP_CAP_MIB = 16;

/** supervisor.graceS when the config does not set it (engine/schema/config.schema.json default). */
export const DEFAULT_GRACE_S = 5;

/** How much longer than the grace a service manager waits before SIGKILL. */
export const KILL_AFTER_GRACE_S = 5;

/** The kill timeout every package gives its manager (TimeoutStopSec, term_timeout, StopTimeout…). */
export function killTimeoutS(graceS: number): number {
  return graceS + KILL_AFTER_GRACE_S;
}

/** Exit codes a service manager acts on. CONFIG: invalid configuration, restarting cannot help. */
export const EXIT = { OK: 0, SOFTWARE: 70, CONFIG: 78 } as const;

/** Starts a native service manager allows before it gives up: at most `burst` in `intervalS`. */
export const RESTART = { intervalS: 300, burst: 5 } as const;

/** Where a package installs the engine and its state, for package (and service user) `name`. */
export function devicePaths(name: string): {
  exec: string;
  config: string;
  stateDir: string;
  keysDir: string;
} {
  return {
    exec: `/usr/bin/${name}`,
    config: `/etc/${name}/${name}.json`,
    stateDir: `/var/lib/${name}`,
    keysDir: `/etc/${name}/keys`,
  };
}

/** The service runs as a system user named like the package. */
export const serviceUser = (name: string): string => name;

/** The admin listener of the shipped default config (engine/schema/default-config.json). */
export const ADMIN_LISTEN = '127.0.0.1:9617';
