// The resolved engine config: what every component reads. Produced once by loadConfig()
// (schema defaults filled in, sizes turned into bytes, env overrides applied) and deep-frozen.
// Section owners (tunnel: helper C, dns: helper D) refine their own interface here together
// with their section of engine/schema/config.schema.json.

export type Role = 'edge' | 'core';
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

export interface MemoryConfig {
  /** 'auto' (cgroup limit, else a share of physical memory) or bytes. */
  readonly limit: 'auto' | number;
  /** Numbers <= 1 are fractions of the limit; larger numbers are bytes. Read via memory/policy.ts. */
  readonly split: { readonly chunkMemory: number; readonly dns: number; readonly buffers: number };
}

export interface AdminConfig {
  readonly listen: string;
  readonly token: string | null;
}

export interface SupervisorConfig {
  readonly maxRestarts: number;
  readonly periodS: number;
  readonly backoffMs: { readonly initial: number; readonly max: number };
  readonly graceS: number;
}

export interface TunnelConfig {
  readonly listen: string | null;
  /** edge: the core, or several in order (failover) */
  readonly connect: string | readonly string[] | null;
  /** edge with several cores: seconds between probes of the first one (0: no failback) */
  readonly failbackS: number;
  /** edge: seconds a dial to a core may take up to the end of its TLS handshake */
  readonly connectTimeoutS: number;
  readonly auth: {
    readonly keyDir: string | null;
    readonly psk: string | null;
    readonly cert: string | null;
    readonly key: string | null;
    readonly pin: string | null;
    /** fleet CA certificate (docs/fleet.md); null: single pair or PSK */
    readonly ca: string | null;
    /** core, fleet mode: revocation list file */
    readonly revoked: string | null;
  };
  /** expected chunk size (power of two) */
  readonly chunkSizeBytes: number;
  /** per-stream receive window in delivered bytes */
  readonly streamWindowBytes: number;
}

export interface ForwardConfig {
  readonly listen: string;
  readonly target: string;
  readonly direction: 'edge-to-core' | 'core-to-edge';
  /** core-to-edge on a fleet core: the edge's name */
  readonly edge: string | null;
}

export interface SocksConfig {
  readonly listen: string | null;
}

export interface DnsRecordConfig {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'PTR' | 'MX' | 'NXDOMAIN';
  readonly value: string;
  readonly ttlS: number;
  readonly subdomains: boolean;
}

/** The `dns` section; engine/src/dns/options.ts documents each field (helper D). */
export interface DnsConfig {
  readonly enabled: boolean;
  readonly listen: readonly string[];
  readonly upstreams: readonly string[];
  readonly records: readonly DnsRecordConfig[];
  readonly hostsFile: string | null;
  readonly allowFrom: readonly string[];
  readonly serveStale: boolean;
  readonly staleAnswerTtlS: number;
  readonly staleMaxS: number;
  readonly negativeTtlS: number;
  readonly negativeMaxTtlS: number;
  readonly minTtlS: number;
  readonly maxTtlS: number;
  readonly prefetch: boolean;
  readonly upstreamTimeoutMs: number;
  readonly upstreamAttempts: number;
  readonly maxInflight: number;
  readonly ednsUdpSize: number;
  readonly snapshotIntervalS: number;
  /** threads answering UDP: "auto" or 1..16 (engine/src/dns/workers.ts) */
  readonly workers: number | 'auto';
}

/** The `intercept` section (transparent interception on the edge); engine/src/intercept/ owns it. */
export interface InterceptRuleConfig {
  readonly destinations: readonly string[];
  readonly ports: readonly (number | string)[];
  readonly exclude: readonly string[];
}

export interface InterceptConfig {
  readonly enabled: boolean;
  readonly rules: readonly InterceptRuleConfig[];
  readonly port: number;
  readonly interfaces: readonly string[];
  readonly failClosed: boolean;
  readonly table: string;
}

export interface CachesConfig {
  /** maxSize in bytes (0: off). */
  readonly chunkDisk: { readonly maxSize: number };
  readonly dnsSnapshot: boolean;
}

export interface ResolvedConfig {
  readonly role: Role;
  readonly stateDir: string;
  readonly memory: MemoryConfig;
  readonly admin: AdminConfig;
  readonly log: { readonly level: LogLevelName };
  readonly supervisor: SupervisorConfig;
  readonly tunnel: TunnelConfig;
  readonly forwards: readonly ForwardConfig[];
  readonly socks: SocksConfig;
  readonly dns: DnsConfig;
  readonly caches: CachesConfig;
  readonly intercept: InterceptConfig;
}

/** What loadConfig() returns: the frozen config plus where it came from. */
export interface LoadedConfig {
  readonly config: ResolvedConfig;
  /** The validated document with defaults filled in (what print-config prints; passes the schema). */
  readonly document: Readonly<Record<string, unknown>>;
  /** The file read, or null for defaults only. */
  readonly file: string | null;
  /** Which EDGEWAN_* variables changed the file's values. */
  readonly envApplied: readonly string[];
}
