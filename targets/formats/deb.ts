// The .deb writer: ar(debian-binary, control.tar.gz, data.tar.xz|gz) in deb(5)'s order,
// built by our code, not dpkg-deb. Computes Installed-Size (KiB, as dpkg-gencontrol does:
// every file rounded up to whole KiB, every other entry 1 KiB) and md5sums (every regular
// file except conffiles, as dh_md5sums does), writes conffiles and maintainer scripts.
// Everything is deterministic: one mtime, 0:0 owners, sorted entries, fixed compressors.
import { createHash } from 'node:crypto';
import { buildAr } from './ar.ts';
import {
  type ControlFields,
  renderControl,
  checkPackageName,
  checkDebVersion,
  ControlError,
} from './deb-control.ts';
import { gzip } from './gzip.ts';
import { compressXz } from './xz.ts';
import { buildTar, prepareEntries, type FileEntry } from './tar.ts';

export type MaintainerScript = 'preinst' | 'postinst' | 'prerm' | 'postrm';

export interface DebSpec {
  /** control fields in order, without Installed-Size (computed and placed after Maintainer) */
  control: ControlFields;
  /** data.tar contents (paths relative to /) */
  files: readonly FileEntry[];
  /** absolute paths of conffiles (each must be a regular file in files, under /etc) */
  conffiles?: readonly string[];
  scripts?: Partial<Record<MaintainerScript, string>>;
  /** SOURCE_DATE_EPOCH seconds */
  mtime: number;
  /** data.tar compression; control.tar is always gzip (small, and every dpkg reads it) */
  dataCompression?: 'xz' | 'gzip';
  /** directory for caching xz output keyed by input hash (xz -6 of a Node binary is slow) */
  cacheDir?: string;
}

export interface DebResult {
  deb: Buffer;
  /** the rendered control file (with Installed-Size) */
  control: string;
  installedSizeKiB: number;
}

function field(fields: ControlFields, name: string): string | undefined {
  const f = fields.find(([k]) => k === name);
  return f?.[1] === undefined ? undefined : String(f[1]);
}

export async function buildDeb(spec: DebSpec): Promise<DebResult> {
  const pkg = field(spec.control, 'Package');
  const version = field(spec.control, 'Version');
  if (!pkg || !version || !field(spec.control, 'Architecture')) {
    throw new ControlError('deb control needs Package, Version and Architecture');
  }
  checkPackageName(pkg);
  checkDebVersion(version);
  const entries = prepareEntries(spec.files, true);
  const byPath = new Map(entries.map((e) => [`/${e.path}`, e]));
  const conffiles = [...(spec.conffiles ?? [])].sort();
  for (const c of conffiles) {
    const e = byPath.get(c);
    if (!e || e.type !== 'file') throw new ControlError(`conffile ${c} is not a regular file in the package`);
    if (!c.startsWith('/etc/')) throw new ControlError(`conffile ${c} must live under /etc (Policy §10.7.2)`);
  }
  const conffileSet = new Set(conffiles);

  let kib = 0;
  let md5sums = '';
  for (const e of entries) {
    if (e.type === 'file') {
      kib += Math.ceil(e.data.length / 1024);
      if (!conffileSet.has(`/${e.path}`))
        md5sums += `${createHash('md5').update(e.data).digest('hex')}  ${e.path}\n`;
    } else {
      kib += 1;
    }
  }
  const fields: Array<readonly [string, string | number | undefined]> = [];
  for (const f of spec.control) {
    if (f[0] === 'Installed-Size') throw new ControlError('Installed-Size is computed, do not pass it');
    fields.push(f);
    if (f[0] === 'Maintainer') fields.push(['Installed-Size', kib]);
  }
  if (!fields.some(([k]) => k === 'Installed-Size')) fields.push(['Installed-Size', kib]);
  const control = renderControl(fields);

  const controlEntries: FileEntry[] = [
    { type: 'file', path: 'control', mode: 0o644, data: Buffer.from(control) },
  ];
  if (md5sums)
    controlEntries.push({ type: 'file', path: 'md5sums', mode: 0o644, data: Buffer.from(md5sums) });
  if (conffiles.length) {
    controlEntries.push({
      type: 'file',
      path: 'conffiles',
      mode: 0o644,
      data: Buffer.from(conffiles.map((c) => `${c}\n`).join('')),
    });
  }
  for (const [name, body] of Object.entries(spec.scripts ?? {})) {
    if (body === undefined) continue;
    if (!body.startsWith('#!')) throw new ControlError(`maintainer script ${name} must start with "#!"`);
    controlEntries.push({ type: 'file', path: name, mode: 0o755, data: Buffer.from(body) });
  }
  const controlTar = await buildTar(controlEntries, {
    mtime: spec.mtime,
    dotSlash: true,
    implicitDirs: false,
  });
  const dataTar = await buildTar(entries, { mtime: spec.mtime, dotSlash: true, implicitDirs: false });
  const xz = (spec.dataCompression ?? 'xz') === 'xz';
  const dataMember = xz ? await compressXz(dataTar, spec.cacheDir) : gzip(dataTar);
  const deb = buildAr(
    [
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'control.tar.gz', data: gzip(controlTar) },
      { name: xz ? 'data.tar.xz' : 'data.tar.gz', data: dataMember },
    ],
    spec.mtime,
  );
  return { deb, control, installedSizeKiB: kib };
}
