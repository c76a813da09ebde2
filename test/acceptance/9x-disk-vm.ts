// Boot-test harness for the disk images (90-disk-boot.test.ts): edit one file in the root
// partition of a copied image without mounting (debugfs -w on the extracted partition),
// boot it under qemu-system TCG with UEFI firmware, and talk to the guest through the QEMU
// guest agent (the image ships qemu-guest-agent; it only starts on a VM's virtio port).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

export function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface GptPart {
  name: string;
  start: number;
  size: number;
  uuid: string;
}

export function partitions(img: string): GptPart[] {
  const j = JSON.parse(sh('sfdisk', ['--json', img])) as { partitiontable: { partitions: GptPart[] } };
  return j.partitiontable.partitions;
}

/** Replace one file in the ext4 partition `partName` of img, keeping owner and mode. */
export function replaceFileInPartition(
  img: string,
  partName: string,
  path: string,
  content: string,
  work: string,
): void {
  const p = partitions(img).find((x) => x.name === partName);
  if (!p) throw new Error(`${img}: no partition named ${partName}`);
  const part = join(work, `${partName}.part`);
  sh('dd', [
    `if=${img}`,
    `of=${part}`,
    'bs=4M',
    `skip=${p.start * 512}`,
    `count=${p.size * 512}`,
    'iflag=skip_bytes,count_bytes',
    'conv=sparse',
    'status=none',
  ]);
  const st = sh('debugfs', ['-R', `stat ${path}`, part]);
  const user = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(st);
  const mode = /Mode:\s+(0\d+)/.exec(st);
  if (!user || !mode) throw new Error(`debugfs stat ${path}: ${st.slice(0, 300)}`);
  const m = [user[0], user[1], user[2], mode[1]];
  const src = join(work, 'replacement');
  writeFileSync(src, content);
  const cmds = [
    `rm ${path}`,
    `write ${src} ${path}`,
    `sif ${path} uid ${m[1]}`,
    `sif ${path} gid ${m[2]}`,
    `sif ${path} mode 0100${m[3].slice(-3)}`,
  ].join('\n');
  sh('debugfs', ['-w', '-f', '-', part], cmds);
  sh('e2fsck', ['-fn', part]);
  sh('dd', [
    `if=${part}`,
    `of=${img}`,
    'bs=4M',
    `seek=${p.start * 512}`,
    'oflag=seek_bytes',
    'conv=notrunc,sparse',
    'status=none',
  ]);
}

export interface Vm {
  proc: ChildProcess;
  qgaPath: string;
  serial: string;
  exited: Promise<number | null>;
}

export function bootVm(arch: 'amd64' | 'arm64', img: string, work: string, adminPort: number): Vm {
  const qgaPath = join(work, 'qga.sock');
  const serial = join(work, 'serial.log');
  const common = [
    '-m',
    '1024',
    '-smp',
    '2',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    `file:${serial}`,
    '-drive',
    `file=${img},format=raw,if=virtio,cache=unsafe`,
    '-netdev',
    `user,id=n0,hostfwd=tcp:127.0.0.1:${adminPort}-:9617`,
    '-device',
    'virtio-net-pci,netdev=n0',
    '-chardev',
    `socket,id=qga,path=${qgaPath},server=on,wait=off`,
    '-device',
    'virtio-serial',
    '-device',
    'virtserialport,chardev=qga,name=org.qemu.guest_agent.0',
  ];
  let cmd: string;
  let fw: string[];
  if (arch === 'amd64') {
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', join(work, 'vars.fd'));
    cmd = 'qemu-system-x86_64';
    fw = [
      '-machine',
      'q35',
      '-accel',
      'tcg',
      '-drive',
      'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive',
      `if=pflash,format=raw,unit=1,file=${join(work, 'vars.fd')}`,
    ];
  } else {
    copyFileSync('/usr/share/AAVMF/AAVMF_VARS.fd', join(work, 'vars.fd'));
    cmd = 'qemu-system-aarch64';
    fw = [
      '-machine',
      'virt',
      '-accel',
      'tcg',
      '-cpu',
      'cortex-a72',
      '-drive',
      'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd',
      '-drive',
      `if=pflash,format=raw,unit=1,file=${join(work, 'vars.fd')}`,
    ];
  }
  const proc = spawn(cmd, [...fw, ...common], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((res) =>
    proc.on('exit', (code) => {
      if (code) process.stderr.write(`${cmd} exited ${code}: ${stderr}\n`);
      res(code);
    }),
  );
  return { proc, qgaPath, serial, exited };
}

/** One QEMU guest agent request/response over its unix socket, bounded in time. */
export function qga(path: string, execute: string, args?: unknown, timeoutMs = 20_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(path);
    const id = Math.floor(Math.random() * 1e9);
    let buf = '';
    let synced = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`qga ${execute}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => s.write(`${JSON.stringify({ execute: 'guest-sync', arguments: { id } })}\n`));
    s.on('data', (d) => {
      buf += d.toString('utf8').replace(/\xff/g, '');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { return?: unknown; error?: { desc: string } };
        if (!synced) {
          if (msg.return === id) {
            synced = true;
            s.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
            // guest-shutdown never answers on success
            if (execute === 'guest-shutdown') {
              clearTimeout(timer);
              s.end();
              resolve(undefined);
            }
          }
          continue;
        }
        clearTimeout(timer);
        s.end();
        if (msg.error) reject(new Error(`qga ${execute}: ${msg.error.desc}`));
        else resolve(msg.return);
        return;
      }
    });
  });
}

/** Run a shell command in the guest as root; returns exit code and stdout. */
export async function guestSh(
  qgaPath: string,
  script: string,
  timeoutMs = 60_000,
): Promise<{ code: number; out: string }> {
  const { pid } = (await qga(qgaPath, 'guest-exec', {
    path: '/bin/sh',
    arg: ['-c', script],
    'capture-output': true,
  })) as { pid: number };
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const st = (await qga(qgaPath, 'guest-exec-status', { pid })) as {
      exited: boolean;
      exitcode?: number;
      'out-data'?: string;
      'err-data'?: string;
    };
    if (st.exited) {
      return {
        code: st.exitcode ?? -1,
        out:
          Buffer.from(st['out-data'] ?? '', 'base64').toString('utf8') +
          Buffer.from(st['err-data'] ?? '', 'base64').toString('utf8'),
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`guest command timed out: ${script}`);
}
