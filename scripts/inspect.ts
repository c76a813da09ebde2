// `edgewan-build inspect FILE`: prints any artifact the build writes as JSON, with our own
// readers. This file is the dispatcher: the first reader whose `match` accepts the file reads
// it. The build's own outputs are read here; each target brings the readers of its formats
// (Target.readers, collected in scripts/targets.ts).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ARCHES } from '../targets/arch.ts';
import { readElf } from '../targets/formats/elf.ts';
import { BuildError } from './errors.ts';
import { sha256File } from './fsutil.ts';
import { runnerFor } from './hosttools.ts';
import { validateArtifacts } from './artifacts.ts';
import { TARGET_READERS } from './targets.ts';
import type { Reader } from '../targets/target.ts';

const run = promisify(execFile);

async function head(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Executable: ELF facts, hashes, and its own --version (qemu for arm). */
export async function inspectExecutable(path: string): Promise<unknown> {
  const elf = await readElf(path);
  let version: string | undefined;
  let versionError: string | undefined;
  if (elf?.arch) {
    const r = runnerFor(elf.arch, process.env);
    const argv = [...r.argv, path, '--version'];
    try {
      version = (await run(argv[0], argv.slice(1), { env: r.env, timeout: 60_000 })).stdout.trim();
    } catch (e) {
      versionError = (e as Error).message.split('\n')[0];
    }
  }
  return {
    format: 'executable',
    path,
    size: (await stat(path)).size,
    sha256: await sha256File(path),
    elf: elf && {
      class: elf.elfClass === 2 ? 'ELF64' : 'ELF32',
      machine: elf.machine,
      arch: elf.arch ?? null,
      expectedName: elf.arch ? ARCHES[elf.arch].executable : null,
      interpreter: elf.interpreter ?? null,
    },
    version: version ?? null,
    ...(versionError ? { versionError } : {}),
  };
}

/** Bundle: sizes, hashes, its source map and notices, and `node bundle --version`. */
export async function inspectBundle(path: string): Promise<unknown> {
  const map = `${path}.map`;
  const notices = `${path}.LICENSES.txt`;
  let version: string | null = null;
  try {
    version = (await run(process.execPath, [path, '--version'], { timeout: 30_000 })).stdout.trim();
  } catch {
    /* reported as null */
  }
  const mapDoc = existsSync(map)
    ? (JSON.parse(await readFile(map, 'utf8')) as { sources?: string[] })
    : undefined;
  return {
    format: 'bundle',
    path,
    size: (await stat(path)).size,
    sha256: await sha256File(path),
    version,
    sourceMap: mapDoc ? { path: map, sources: mapDoc.sources?.length ?? 0 } : null,
    licenses: existsSync(notices)
      ? {
          path: notices,
          packages: Number(/bundles the following (\d+)/.exec(await readFile(notices, 'utf8'))?.[1] ?? 0),
        }
      : null,
  };
}

/** SPDX document: summary of its packages. */
async function inspectSbom(path: string): Promise<unknown> {
  const d = JSON.parse(await readFile(path, 'utf8')) as {
    spdxVersion: string;
    name: string;
    packages: { name: string; versionInfo?: string; licenseDeclared?: string }[];
  };
  return {
    format: 'spdx',
    path,
    spdxVersion: d.spdxVersion,
    name: d.name,
    packages: d.packages.map((p) => ({
      name: p.name,
      version: p.versionInfo ?? null,
      license: p.licenseDeclared ?? null,
    })),
  };
}

/** artifacts.json: validated against the schema, with every hash re-checked. */
async function inspectArtifacts(path: string): Promise<unknown> {
  const list = JSON.parse(await readFile(path, 'utf8')) as {
    path: string;
    sha256: string;
    index?: string;
    type: string;
  }[];
  validateArtifacts(list, path);
  const dir = join(path, '..');
  const checked = await Promise.all(
    list.map(async (a) => {
      const f = join(dir, a.path, a.index ?? '');
      const ok = existsSync(f) ? (await sha256File(f)) === a.sha256 : false;
      return { ...a, verified: ok };
    }),
  );
  return {
    format: 'artifacts.json',
    path,
    count: list.length,
    allVerified: checked.every((c) => c.verified),
    artifacts: checked,
  };
}

const isJson = (p: string, h: Buffer) => p.endsWith('.json') && /^\s*[[{]/.test(h.toString('utf8'));

export const READERS: Reader[] = [
  {
    name: 'executable',
    match: (_p, h) => h.length >= 4 && h.readUInt32BE(0) === 0x7f454c46,
    read: inspectExecutable,
  },
  { name: 'bundle', match: (p) => p.endsWith('.cjs'), read: inspectBundle },
  {
    name: 'spdx',
    match: (p, h) => isJson(p, h) && h.toString('utf8').includes('"spdxVersion"'),
    read: inspectSbom,
  },
  {
    name: 'artifacts.json',
    match: (p, h) => basename(p) === 'artifacts.json' && isJson(p, h),
    read: inspectArtifacts,
  },
  // then each target's formats (scripts/targets.ts)
  ...TARGET_READERS,
];

export async function inspect(path: string): Promise<unknown> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new BuildError('EDGEWAN_ERR_BUILD_INSPECT', `${path} does not exist`);
  }
  const h = st.isDirectory() ? Buffer.alloc(0) : await head(path);
  const r = READERS.find((x) => x.match(path, h, st.isDirectory()));
  if (!r)
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_INSPECT',
      `${path}: no reader for this kind of file (known: ${READERS.map((x) => x.name).join(', ')})`,
    );
  return r.read(path);
}
