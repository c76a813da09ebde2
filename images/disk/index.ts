// The `disk` Target: one flashable raw image per images/branch-box-<arch>.json whose arch
// was built — a cached mmdebstrap root, our .deb from the signed repo the debian target
// made in this build (`needs: ['apt-repo']`: the build runs debian first and hands over its
// suite), then filesystems and GPT without loop devices (assemble.ts). Writes
// disk/<name>.img, .img.zst and SHA256SUMS into the directory the build gives it; an image
// whose inputs did not change is linked from dist/ instead of rebuilt.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Arch } from '../../targets/arch.ts';
import type { Artifact, BuildInputs, HostNeed, PackageInfo, Target } from '../../targets/target.ts';
import { assemble, checkFits } from './assemble.ts';
import { customize, run } from './customize.ts';
import { definitionFiles, loadDefinition, type ImageDefinition } from './definition.ts';
import { DiskError } from './errors.ts';
import { planLayout } from './layout.ts';
import { cachedRoot, rootName } from './roots.ts';
import { inspectDisk } from './inspect.ts';
import { haveCommand } from './tools.ts';
import { sha256, sha256File } from '../../targets/formats/hash.ts';

const HERE = import.meta.dirname;

// arch-test: mmdebstrap checks with it that the host can run a foreign arch's binaries.
const TOOLS: Array<[string, string]> = [
  ['mmdebstrap', 'mmdebstrap'],
  ['arch-test', 'arch-test'],
  ['mke2fs', 'e2fsprogs'],
  ['mkfs.fat', 'dosfstools'],
  ['mcopy', 'mtools'],
  ['sfdisk', 'fdisk'],
  ['grub-mkimage', 'grub-common'],
  ['zstd', 'zstd'],
  ['systemctl', 'systemd'],
];

/** binfmt_misc handler that runs a Debian arch's binaries in a chroot, if it is foreign here. */
function binfmtHandler(debArch: string): string | undefined {
  return debArch === 'amd64' ? undefined : `qemu-${debArch === 'arm64' ? 'aarch64' : 'arm'}`;
}

/** Host tools for the images a build with these arches makes. */
function diskNeeds(arches: readonly Arch[], info: PackageInfo): HostNeed[] {
  const defs = wantedDefinitions(info.defaultConfig).filter((d) => arches.includes(d.arch));
  if (defs.length === 0) return [];
  const f = 'disk target';
  const out: HostNeed[] = TOOLS.map(([what, pkg]) => ({ kind: 'cmd', what, pkg, for: f }));
  out.push({
    kind: 'file',
    what: '/usr/share/keyrings/debian-archive-keyring.gpg',
    pkg: 'debian-archive-keyring',
    for: f,
  });
  if (defs.some((d) => d.board === 'rpi'))
    out.push({ kind: 'cmd', what: 'unshare', pkg: 'util-linux', for: f });
  for (const d of defs) {
    const h = binfmtHandler(d.debArch);
    if (h)
      out.push(
        { kind: 'cmd', what: `${h}-static`, pkg: 'qemu-user-static', for: f },
        { kind: 'binfmt', what: h, pkg: 'qemu-user-static', for: f },
      );
  }
  return out;
}

// Which images a build makes: EDGEWAN_DISK_ARCHES (canonical arches, default x64,arm64)
// and EDGEWAN_DISK_IMAGES (image names, or "all", the default). Read here because they are
// the only disk-specific switches. All three fit the CI budget since the arm64 root builds
// its initramfs once and the Pi root is a layer on it (docs/disk.md, "CI").
const DEFAULT_DISK_ARCHES = ['x64', 'arm64'];

function wantedDiskArches(): string[] {
  const v = process.env.EDGEWAN_DISK_ARCHES;
  return v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_DISK_ARCHES;
}

/** The image definitions a build makes when their arch is built (the disk tests use the same list). */
export function wantedDefinitions(defaultConfig: Record<string, unknown>): ImageDefinition[] {
  const wanted = wantedDiskArches();
  const names = process.env.EDGEWAN_DISK_IMAGES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const all = !names || names.includes('all');
  return definitionFiles()
    .map((f) => loadDefinition(f, defaultConfig))
    .filter((d) => wanted.includes(d.arch) && (all || names.includes(d.name)));
}

function definitionsFor(inputs: BuildInputs): ImageDefinition[] {
  return wantedDefinitions(inputs.info.defaultConfig).filter((d) => inputs.executables[d.arch] !== undefined);
}

function dataOwner(root: string, user: string): string {
  const line = readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line)
    throw new DiskError(
      'EDGEWAN_ERR_DISK_ASSEMBLE',
      `user ${user} is missing from the image's /etc/passwd after installing the package`,
    );
  const [, , uid, gid] = line.split(':');
  return `${uid}:${gid}`;
}

/** Hash of everything an image is made of: a rebuild with the same inputs is skipped. */
function imageKey(inputs: BuildInputs, def: ImageDefinition, aptDir: string): string {
  const h = createHash('sha256').update(
    JSON.stringify({ def, info: inputs.info, mtime: inputs.mtime, root: rootName(def) }),
  );
  const deb = join(
    aptDir,
    'pool',
    def.suite,
    `${inputs.info.name}_${inputs.info.versions.deb}_${def.debArch}.deb`,
  );
  for (const f of [deb, join(aptDir, `${inputs.info.name}-archive-keyring.gpg`)])
    if (existsSync(f)) h.update(readFileSync(f));
  for (const f of readdirSync(HERE).sort()) if (f.endsWith('.ts')) h.update(readFileSync(join(HERE, f)));
  for (const f of readdirSync(join(HERE, 'files')).sort()) h.update(readFileSync(join(HERE, 'files', f)));
  return h.digest('hex');
}

/** Outside dist/ (only artifacts live there): one stamp per image and output dir. */
function stampPath(inputs: BuildInputs, def: ImageDefinition): string {
  const out = sha256(inputs.distDir ?? inputs.outDir).slice(0, 12);
  return join(inputs.cacheDir, 'disk-stamps', `${def.name}-${out}.json`);
}

/** The stamped artifacts when dist/ still holds them unchanged in size, linked into outDir. */
function reuse(stampFile: string, inputs: BuildInputs, key: string): Artifact[] | undefined {
  const from = inputs.distDir ?? inputs.outDir;
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as { key: string; artifacts: Artifact[] };
    if (stamp.key !== key) return undefined;
    const ok = stamp.artifacts.every(
      (a) => existsSync(join(from, a.path)) && statSync(join(from, a.path)).size === a.size,
    );
    if (!ok) return undefined;
    if (from !== inputs.outDir) {
      for (const a of stamp.artifacts) {
        const dest = join(inputs.outDir, a.path);
        mkdirSync(join(dest, '..'), { recursive: true });
        rmSync(dest, { force: true });
        try {
          linkSync(join(from, a.path), dest);
        } catch {
          copyFileSync(join(from, a.path), dest);
        }
      }
    }
    return stamp.artifacts;
  } catch {
    return undefined;
  }
}

/** dist/apt holding the image's suite: the one a target of this build made, else an earlier build's. */
function aptDirFor(inputs: BuildInputs, def: ImageDefinition): string {
  const made = inputs.needed?.find(
    (n) => n.artifact.type === 'apt-repo' && n.artifact.path === `apt/dists/${def.suite}`,
  );
  return join(made ? made.root : (inputs.distDir ?? inputs.outDir), 'apt');
}

async function buildOne(inputs: BuildInputs, def: ImageDefinition): Promise<Artifact[]> {
  const { info, mtime, outDir } = inputs;
  const aptDir = aptDirFor(inputs, def);
  if (!existsSync(join(aptDir, 'dists', def.suite, 'InRelease'))) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_INPUT',
      `${aptDir}/dists/${def.suite}/InRelease is missing: the disk target installs our .deb from the signed apt repo, build it in the same run (--target debian,disk)`,
    );
  }
  const dir = join(outDir, 'disk');
  const key = imageKey(inputs, def, aptDir);
  const reused = reuse(stampPath(inputs, def), inputs, key);
  if (reused) {
    inputs.log(`disk: ${def.name}: unchanged inputs, keeping dist/disk/${def.name}.img`);
    return reused;
  }
  const base = cachedRoot(def, inputs.cacheDir, inputs.log);
  const work = join(inputs.cacheDir, 'disk-work', `${def.name}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const root = join(work, 'root');
    inputs.log(
      `disk: ${def.name}: copying the cached root, installing ${info.name} ${info.versions.deb} from ${aptDir}`,
    );
    run('cp', ['-a', '--reflink=auto', base, root], 'copying the cached root');
    rmSync(join(root, '.complete'));
    const layout = planLayout(def);
    customize({ root, def, info, layout, aptDir, mtime });
    checkFits(def, root);
    inputs.log(
      `disk: ${def.name}: filesystems and ${layout.table === 'dos' ? 'MBR' : 'GPT'} (${layout.size / 1048576} MiB)`,
    );
    const img = assemble({
      def,
      layout,
      rootDir: root,
      work: join(work, 'fs'),
      mtime,
      dataOwner: dataOwner(root, info.name),
    });
    rmSync(root, { recursive: true, force: true });
    inputs.log(`disk: ${def.name}: zstd`);
    run('zstd', ['-q', '-f', '-T0', '-9', img, '-o', `${img}.zst`], 'compressing the image with zstd');
    mkdirSync(dir, { recursive: true });
    const out: Artifact[] = [];
    for (const [src, name] of [
      [img, `${def.name}.img`],
      [`${img}.zst`, `${def.name}.img.zst`],
    ]) {
      renameSync(src, join(dir, name));
      const path = join(dir, name);
      out.push({
        type: 'disk-image',
        path: `disk/${name}`,
        arch: def.arch,
        platform: def.debArch,
        target: 'disk',
        sha256: await sha256File(path),
        size: statSync(path).size,
      });
    }
    mkdirSync(join(stampPath(inputs, def), '..'), { recursive: true });
    writeFileSync(stampPath(inputs, def), JSON.stringify({ key, artifacts: out }));
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const diskTarget: Target = {
  name: 'disk',
  arches: ['x64', 'arm64'] as readonly Arch[],
  needs: ['apt-repo'],
  readers: [
    {
      name: 'disk-image',
      match: (p, h, dir) =>
        !dir && p.endsWith('.img') && h.length >= 512 && h[510] === 0x55 && h[511] === 0xaa,
      read: inspectDisk,
    },
  ],
  hostNeeds: ({ arches, info }) => diskNeeds(arches, info),
  validate(inputs) {
    const defs = definitionsFor(inputs);
    if (defs.length === 0) return;
    if (process.getuid?.() !== 0)
      throw new DiskError(
        'EDGEWAN_ERR_DISK_ROOT',
        'the disk target needs root (mmdebstrap and chroot): run the build as root or leave out --target disk',
      );
    const tools = defs.some((d) => d.board === 'rpi') ? [...TOOLS, ['unshare', 'util-linux']] : TOOLS;
    for (const [cmd, pkg] of tools)
      if (!haveCommand(cmd))
        throw new DiskError(
          'EDGEWAN_ERR_DISK_TOOL',
          `${cmd} not found: apt-get install ${pkg} (needed by the disk target)`,
        );
    for (const d of defs) {
      const h = binfmtHandler(d.debArch);
      if (h && !existsSync(`/proc/sys/fs/binfmt_misc/${h}`)) {
        throw new DiskError(
          'EDGEWAN_ERR_DISK_TOOL',
          `${d.file}: building a ${d.debArch} root needs binfmt qemu-user: apt-get install qemu-user-static binfmt-support && update-binfmts --enable ${h}`,
        );
      }
      // A root cached earlier tells us its size now, before any long step.
      const cached = join(inputs.cacheDir, 'rootfs', rootName(d));
      if (existsSync(join(cached, '.complete'))) checkFits(d, cached);
    }
  },
  async build(inputs) {
    const out: Artifact[] = [];
    const defs = definitionsFor(inputs);
    for (const def of defs) out.push(...(await buildOne(inputs, def)));
    const sums = out
      .filter((a) => a.path.startsWith('disk/'))
      .map((a) => `${a.sha256}  ${a.path.slice(5)}\n`)
      .sort()
      .join('');
    if (defs.length) {
      const tmp = join(inputs.outDir, 'disk', `.SHA256SUMS.${process.pid}`);
      writeFileSync(tmp, sums);
      renameSync(tmp, join(inputs.outDir, 'disk', 'SHA256SUMS'));
    }
    return out;
  },
};
