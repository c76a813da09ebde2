// The systemd unit shipped in the Debian and Raspbian packages, rendered from PackageInfo
// (docs/contract.md "Process contract" and "Files on devices"). Restart policy and exit codes
// follow the contract; the hardening keeps `systemd-analyze security` exposure low while
// leaving what V8 and the engine need: no MemoryDenyWriteExecute (V8's JIT maps W+X
// pages), no PrivateUsers (port 53 needs CAP_NET_BIND_SERVICE in the host's user
// namespace), no DynamicUser (a state dir on a mount point cannot be renamed to private/).
import type { PackageInfo } from '../../target.ts';
import {
  DEFAULT_GRACE_S,
  devicePaths,
  EXIT,
  heapCapMiB,
  heapFlags as flagsForCap,
  killTimeoutS,
  MIN_HEAP_CAP_MIB,
  RESTART,
  serviceUser,
} from '../../../engine/contract.ts';

export { heapCapMiB };

/** The V8 flags for the unit's NODE_OPTIONS (engine/contract.ts, as the engine's own re-exec). */
export function heapFlags(memoryMaxBytes: number): string {
  return flagsForCap(heapCapMiB(memoryMaxBytes));
}

/** supervisor.graceS of the shipped config, default 5 s (a 0 also gets the default here). */
export function graceSeconds(info: PackageInfo): number {
  const sup = info.defaultConfig.supervisor as { graceS?: unknown } | undefined;
  return typeof sup?.graceS === 'number' && sup.graceS > 0 ? sup.graceS : DEFAULT_GRACE_S;
}

export type UnitPaths = ReturnType<typeof devicePaths>;

export function unitPaths(info: PackageInfo): UnitPaths {
  return devicePaths(info.name);
}

export interface UnitOptions {
  /**
   * Absolute path of the interception table hook (targets/formats/apt/intercept.ts) to run as
   * root after every stop; unset: no such line (a package that does not ship the hook).
   */
  interceptHook?: string;
}

export function renderUnit(info: PackageInfo, opts: UnitOptions = {}): string {
  const p = unitPaths(info);
  const heap = heapCapMiB(info.memoryMaxBytes);
  // the hook's path (targets/formats/apt/resolved.ts), not imported to keep this module a leaf
  const hook = `/usr/lib/${info.name}/resolved-dns`;
  if (heap < MIN_HEAP_CAP_MIB)
    throw new Error(
      `service.memoryMax ${info.memoryMaxBytes} bytes leaves a heap cap of ${heap} MiB; use at least 32MiB`,
    );
  return `[Unit]
Description=${info.description.split('\n')[0]}
Documentation=${info.homepage} man:${info.name}(1)
After=network-online.target
Wants=network-online.target
# Process contract: at most ${RESTART.burst} starts in ${RESTART.intervalS} s, then systemd gives up (unit "failed").
StartLimitIntervalSec=${RESTART.intervalS}
StartLimitBurst=${RESTART.burst}

[Service]
Type=exec
User=${serviceUser(info.name)}
Group=${serviceUser(info.name)}
ExecStart=${p.exec} run --config ${p.config}
ExecReload=/bin/kill -HUP $MAINPID
# DNS coexistence (docs/dns.md): while this service runs with dns.enabled, systemd-resolved
# forwards to it through a runtime drop-in; "+" runs the hook as root, "-" never fails the unit.
ExecStartPost=-+${hook} start
ExecReload=-+${hook} start
ExecStopPost=-+${hook} stop
${
  opts.interceptHook
    ? `# Interception (docs/intercept.md): a fail-open edge's nftables table goes with the engine,
# also when it died without removing it; a fail-closed table stays.
ExecStopPost=-+${opts.interceptHook} stop
`
    : ''
}# Process contract: ${EXIT.CONFIG} = invalid configuration, restarting cannot help.
Restart=on-failure
RestartSec=2
RestartPreventExitStatus=${EXIT.CONFIG}
# Drain on SIGTERM takes up to supervisor.graceS; systemd waits 5 s more before SIGKILL.
TimeoutStopSec=${killTimeoutS(graceSeconds(info))}
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
