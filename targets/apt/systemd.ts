// The systemd unit shipped in the Debian and Raspbian packages, rendered from PackageInfo
// (INTERFACES.md "Process contract" and "Files on devices"). Restart policy and exit codes
// follow the contract; the hardening keeps `systemd-analyze security` exposure low while
// leaving what V8 and the engine need: no MemoryDenyWriteExecute (V8's JIT maps W+X
// pages), no PrivateUsers (port 53 needs CAP_NET_BIND_SERVICE in the host's user
// namespace), no DynamicUser (a state dir on a mount point cannot be renamed to private/).
import type { PackageInfo } from '../target.ts';

export const MIB = 1024 * 1024;

/** ⌊0.5 × limit⌋ in MiB (INTERFACES.md "Memory"). */
export function heapCapMiB(memoryMaxBytes: number): number {
  return Math.floor((0.5 * memoryMaxBytes) / MIB);
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
# Process contract: 78 = invalid configuration, restarting cannot help.
Restart=on-failure
RestartSec=2
RestartPreventExitStatus=78
# Drain on SIGTERM takes up to supervisor.graceS; systemd waits 5 s more before SIGKILL.
TimeoutStopSec=${graceSeconds(info) + 5}
KillMode=mixed
# service.memoryMax; the V8 heap gets half (a SEA ignores heap flags on its command line).
MemoryMax=${info.memoryMaxBytes}
Environment=NODE_OPTIONS=--max-old-space-size=${heap}
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
