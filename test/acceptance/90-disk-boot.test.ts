// Boots the shipped branch-box disk images (dist/disk/*.img) under qemu-system with UEFI
// firmware, software emulation (no usable KVM here), user-mode networking forwarding the
// admin port to 127.0.0.1 only. The copy differs from the shipped image only in
// /etc/edgewan/edgewan.json (admin on all interfaces + a test token, written with debugfs,
// no mount) and in being 512 MiB bigger, like a bigger SD card, so first boot must grow
// the data partition. Each boot is bounded (EDGEWAN_DISK_BOOT_TIMEOUT_S, default 480 s for
// amd64 and 900 s for arm64, which TCG emulates instruction by instruction).
// One test per UEFI image the build makes (images/branch-box-*.json with board "uefi" and an
// arch in EDGEWAN_DISK_ARCHES, the build's own switch; the Pi image is inspected, not booted:
// 91-disk-rpi.test.ts); EDGEWAN_DISK_BOOT_ARCHES (e.g. "amd64") narrows them further.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { wantedDefinitions } from '../../images/disk/index.ts';
import { freePort, httpGet, ROOT } from '../helpers/engine.ts';
import { needRoot, needTool, unavailable } from '../helpers/tools.ts';
import { bootVm, guestSh, partitions, qga, replaceFileInPartition, sh } from './9x-disk-vm.ts';

const DIST = process.env.EDGEWAN_TEST_DIST || join(ROOT, 'dist');
const DEFAULT_CONFIG = JSON.parse(
  readFileSync(join(ROOT, 'engine/schema/default-config.json'), 'utf8'),
) as Record<string, unknown>;
const ONLY = process.env.EDGEWAN_DISK_BOOT_ARCHES?.split(',').filter(Boolean);
const IMAGES = wantedDefinitions(DEFAULT_CONFIG).filter(
  (d) => d.board === 'uefi' && (!ONLY || ONLY.includes(d.debArch)),
);
const bootSeconds = (arch: string) =>
  Number(process.env.EDGEWAN_DISK_BOOT_TIMEOUT_S || (arch === 'amd64' ? 480 : 900));
const TOKEN = 'disk-boot-test-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, deadline: number, fn: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(2000);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

for (const { name, debArch: arch } of IMAGES) {
  const BOOT_S = bootSeconds(arch);
  test(
    `disk image ${name} boots, runs the engine under systemd and powers off`,
    { timeout: (BOOT_S + 600) * 1000 },
    async (t) => {
      const shipped = join(DIST, 'disk', `${name}.img`);
      const qemu = arch === 'amd64' ? 'qemu-system-x86_64' : 'qemu-system-aarch64';
      for (const [tool, pkg] of [
        [qemu, arch === 'amd64' ? 'qemu-system-x86' : 'qemu-system-arm'],
        ['debugfs', 'e2fsprogs'],
        ['sfdisk', 'fdisk'],
      ]) {
        if (!needTool(t, tool, pkg)) return;
      }
      const fw = arch === 'amd64' ? '/usr/share/OVMF/OVMF_CODE_4M.fd' : '/usr/share/AAVMF/AAVMF_CODE.fd';
      if (!existsSync(fw)) {
        unavailable(t, `${fw} missing: apt-get install ${arch === 'amd64' ? 'ovmf' : 'qemu-efi-aarch64'}`);
        return;
      }
      if (!needRoot(t)) return;
      if (!existsSync(shipped)) {
        unavailable(t, `${shipped} missing: the build stage must build the disk target`);
        return;
      }
      const work = mkdtempSync(join(tmpdir(), 'ewI-boot-'));
      let vm: ReturnType<typeof bootVm> | undefined;
      try {
        const img = join(work, 'disk.img');
        sh('cp', ['--sparse=always', shipped, img]);
        const before = partitions(img);
        const dataBefore = before.find((p) => p.name === 'data');
        assert.ok(dataBefore, 'the image has a partition named data');
        // the only change inside the image: the engine config
        replaceFileInPartition(
          img,
          'root',
          '/etc/edgewan/edgewan.json',
          `${JSON.stringify(
            {
              role: 'edge',
              stateDir: '/var/lib/edgewan',
              memory: { limit: 'auto' },
              admin: { listen: '0.0.0.0:9617', token: TOKEN },
              log: { level: 'info' },
              tunnel: { connect: null },
              dns: { enabled: false },
            },
            null,
            2,
          )}\n`,
          work,
        );
        sh('truncate', ['-s', '+512M', img]);
        const port = await freePort();
        const t0 = Date.now();
        vm = bootVm(arch as 'amd64' | 'arm64', img, work, port);
        let exitCode: number | null | undefined;
        void vm.exited.then((c) => {
          exitCode = c;
        });
        const deadline = t0 + BOOT_S * 1000;
        await until('/readyz = 200 through the forwarded admin port', deadline, async () => {
          if (exitCode !== undefined)
            throw Object.assign(new Error(`qemu exited ${exitCode}`), { fatal: true });
          const r = await httpGet(port, '/readyz').catch(() => undefined);
          return r?.status === 200 ? true : undefined;
        }).catch((e) => {
          throw new Error(
            `${String(e)}\n--- serial console (tail) ---\n${readFileSync(vm!.serial, 'utf8').slice(-4000)}`,
          );
        });
        t.diagnostic(`${arch}: /readyz 200 after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        const status = await httpGet(port, '/status', { Authorization: `Bearer ${TOKEN}` });
        assert.equal(status.status, 200, 'the test token from the edited config is accepted');
        assert.equal((await httpGet(port, '/status')).status, 401, 'beyond loopback /status needs the token');

        await until(
          'the guest agent',
          Date.now() + 120_000,
          async () => (await guestSh(vm!.qgaPath, 'true')).code === 0 || undefined,
        );
        const show = async () =>
          Object.fromEntries(
            (
              await guestSh(
                vm!.qgaPath,
                'systemctl show -p MainPID,ActiveState,User,NRestarts edgewan.service',
              )
            ).out
              .trim()
              .split('\n')
              .map((l) => l.split('=', 2) as [string, string]),
          );
        const s1 = await show();
        assert.equal(s1.ActiveState, 'active');
        assert.equal(s1.User, 'edgewan');
        const uid = await guestSh(vm.qgaPath, `awk '/^Uid:/{print $2}' /proc/${s1.MainPID}/status`);
        assert.notEqual(uid.out.trim(), '0', 'the engine does not run as root');
        assert.equal((await guestSh(vm.qgaPath, 'id -u edgewan')).out.trim(), uid.out.trim());
        // state dir: its own mount, the data partition (matched by PARTUUID), grown on first boot
        const src = (
          await guestSh(vm.qgaPath, 'findmnt -n -o SOURCE --mountpoint /var/lib/edgewan')
        ).out.trim();
        assert.match(src, /^\/dev\//, 'state dir is a mount point');
        const partuuid = (await guestSh(vm.qgaPath, `blkid -s PARTUUID -o value ${src}`)).out.trim();
        assert.equal(
          partuuid.toLowerCase(),
          dataBefore.uuid.toLowerCase(),
          'mounted from the data partition',
        );
        const size = Number((await guestSh(vm.qgaPath, `lsblk -bno SIZE ${src}`)).out.trim());
        assert.ok(
          size > dataBefore.size * 512 + 256 * 1048576,
          `data partition grown to the disk end (${size} bytes)`,
        );
        const fsSize = Number(
          (await guestSh(vm.qgaPath, 'df -B1 --output=size /var/lib/edgewan | tail -1')).out.trim(),
        );
        assert.ok(fsSize > 400 * 1048576, `ext4 on the data partition grown (${fsSize} bytes)`);
        const keys = await guestSh(
          vm.qgaPath,
          'ls -A /etc/edgewan/keys | wc -l; stat -c %U:%G /etc/edgewan/keys',
        );
        assert.ok(Number(keys.out.split('\n')[0]) > 0, `first boot created tunnel keys: ${keys.out}`);
        // kill -9 → systemd restarts it (Restart=on-failure, RestartSec=2)
        assert.equal((await guestSh(vm.qgaPath, `kill -9 ${s1.MainPID}`)).code, 0);
        const s2 = await until('a restarted engine', Date.now() + 180_000, async () => {
          const s = await show();
          return s.ActiveState === 'active' && s.MainPID !== '0' && s.MainPID !== s1.MainPID ? s : undefined;
        });
        assert.ok(Number(s2.NRestarts) >= 1, `NRestarts=${s2.NRestarts}`);
        await until('/readyz = 200 after the restart', Date.now() + 180_000, async () =>
          (await httpGet(port, '/readyz').catch(() => undefined))?.status === 200 ? true : undefined,
        );
        // clean poweroff: systemd stops everything and the VM exits on its own
        const tOff = Date.now();
        await qga(vm.qgaPath, 'guest-shutdown', { mode: 'powerdown' });
        // an unref'd timer: once the VM has exited, the bound must not keep the test process alive
        const bound = new Promise<'timeout'>((r) => {
          setTimeout(() => r('timeout'), 240_000).unref();
        });
        const code = await Promise.race([vm.exited, bound]);
        assert.notEqual(code, 'timeout', 'the VM powered off within 240 s');
        assert.equal(code, 0);
        assert.match(readFileSync(vm.serial, 'utf8'), /reboot: Power down/);
        t.diagnostic(
          `${arch}: checks + poweroff ${((Date.now() - tOff) / 1000).toFixed(0)} s after the request; total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
        );
        vm = undefined;
      } finally {
        if (vm && vm.proc.exitCode === null) {
          vm.proc.kill('SIGKILL');
          await vm.exited;
        }
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
}
