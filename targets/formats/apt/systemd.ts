// The systemd unit shipped in the Debian and Raspbian packages, rendered from PackageInfo
// (docs/contract.md "Process contract" and "Files on devices"). Restart policy and exit codes
// follow the contract; the hardening keeps `systemd-analyze security` exposure low while
// leaving what V8 and the engine need: no MemoryDenyWriteExecute (V8's JIT maps W+X
// pages), no PrivateUsers (port 53 needs CAP_NET_BIND_SERVICE in the host's user
// namespace), no DynamicUser (a state dir on a mount point cannot be renamed to private/).
import type { PackageInfo } from '../../target.ts';

export const MIB = 1024 * 1024;

/** ⌊0.5 × limit⌋ in MiB (docs/contract.md "Memory limit and heap cap"). */
export function heapCapMiB(memoryMaxBytes: number): number {
  return Math.floor((0.5 * memoryMaxBytes) / MIB);
}

/**
 * The V8 flags for the unit's NODE_OPTIONS: the same as the engine's own re-exec
 * (engine/src/memory/reexec.ts heapFlags; a unit test keeps the two equal). On Node 24
 * heap_size_limit = old space + young generation (3 x 64 MiB of semi-spaces by default),
 * so the semi-space is scaled with the cap: ⌊cap / 16⌋ MiB up to 16, 1 MiB below a 64 MiB cap.
 */
export function heapFlags(memoryMaxBytes: number): string {
  const cap = heapCapMiB(memoryMaxBytes);
  const semi = cap < 64 ? 1 : Math.min(16, Math.floor(cap / 16));
  return `--max-old-space-size=${cap} --max-semi-space-size=${semi}`;
}

/** supervisor.graceS of the shipped config, default 5 s. */
export function graceSeconds(info: PackageInfo): number {
  const sup = info.defaultConfig.supervisor as { graceS?: unknown } | undefined;
  return typeof sup?.graceS === 'number' && sup.graceS > 0 ? sup.graceS : 5;
}

export interface UnitPaths {
  exec: string;
  config: string;
  stateDir: string;
  keysDir: string;
}

export function unitPaths(info: PackageInfo): UnitPaths {
  return {
    exec: `/usr/bin/${info.name}`,
    config: `/etc/${info.name}/${info.name}.json`,
    stateDir: `/var/lib/${info.name}`,
    keysDir: `/etc/${info.name}/keys`,
  };
}

export function renderUnit(info: PackageInfo): string {
  const p = unitPaths(info);
  const heap = heapCapMiB(info.memoryMaxBytes);
  // the hook's path (targets/formats/apt/resolved.ts), not imported to keep this module a leaf
  const hook = `/usr/lib/${info.name}/resolved-dns`;
  if (heap < 16) throw new Error(`service.memoryMax ${info.memoryMaxBytes} bytes leaves a heap cap of ${heap} MiB; use at least 32MiB`);
  return `[Unit]
Description=${info.description.split('\n')[0]}
Documentation=${info.homepage} man:${info.name}(1)
After=network-online.target
Wants=network-online.target
# Process contract: at most 5 starts in 300 s, then systemd gives up (unit "failed").
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=exec
User=${info.name}
Group=${info.name}
ExecStart=${p.exec} run --config ${p.config}
ExecReload=/bin/kill -HUP $MAINPID
# DNS coexistence (docs/dns.md): while this service runs with dns.enabled, systemd-resolved
# forwards to it through a runtime drop-in; "+" runs the hook as root, "-" never fails the unit.
ExecStartPost=-+${hook} start
ExecReload=-+${hook} start
ExecStopPost=-+${hook} stop
# Process contract: 78 = invalid configuration, restarting cannot help.
Restart=on-failure
RestartSec=2
RestartPreventExitStatus=78
# Drain on SIGTERM takes up to supervisor.graceS; systemd waits 5 s more before SIGKILL.
TimeoutStopSec=${graceSeconds(info) + 5}
KillMode=mixed
# service.memoryMax; the V8 heap gets half, young generation included (a SEA ignores heap
# flags on its command line, and with them here the engine does not re-exec itself).
MemoryMax=${info.memoryMaxBytes}
Environment="NODE_OPTIONS=${heapFlags(info.memoryMaxBytes)}"
StateDirectory=${info.name}
StateDirectoryMode=0750
WorkingDirectory=${p.stateDir}
UMask=0027

# Hardening (exposure is checked by the acceptance tests with systemd-analyze security).
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
KeyringMode=private
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
RemoveIPC=yes
# AF_NETLINK: os.networkInterfaces() (getifaddrs) reads addresses over netlink.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources @mount @debug @cpu-emulation @obsolete @raw-io @reboot @swap @module @clock
# A filtered call fails with EPERM instead of killing the process (libuv probes some).
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}
