// `edgewan-build inspect` for the rhel target, with our own readers:
// - an .rpm: lead, signature and main header, every digest rpm -K checks (header SHA-256
//   and SHA-1, payload SHA-256, MD5 over header + payload) and the OpenPGP header signature
//   against the repository key beside it (../RPM-GPG-KEY-*), plus names, files and scripts;
// - the repository dir (dist/rhel): repomd.xml.asc against the key, every repodata file's
//   checksum, size and open-size, and every listed package's sha256 and size — what dnf
//   checks before it installs.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { decompressXz } from '../formats/xz.ts';
import { sha256 } from '../formats/hash.ts';
import { readCpio } from './cpio.ts';
import { readHeader, type ParsedHeader } from './header.ts';
import { SIGTAG, TAG } from './rpm.ts';
import type { Reader } from '../target.ts';

const hex = (alg: string, ...b: Buffer[]) => {
  const h = createHash(alg);
  for (const x of b) h.update(x);
  return h.digest('hex');
};

interface SigCheck {
  verified: boolean;
  keyId: string | null;
  algorithm: string | null;
  created: string | null;
  error?: string;
}

async function verifyDetached(
  data: Buffer,
  sig: openpgp.Signature,
  keyFile: string | undefined,
): Promise<SigCheck> {
  const pkt = sig.packets[0];
  const out: SigCheck = {
    verified: false,
    keyId: pkt?.issuerKeyID?.toHex().toUpperCase() ?? null,
    algorithm: pkt
      ? String(
          (openpgp.enums.read as (type: object, v: unknown) => unknown)(
            openpgp.enums.publicKey,
            pkt.publicKeyAlgorithm,
          ),
        )
      : null,
    created: pkt?.created?.toISOString() ?? null,
  };
  if (!keyFile) {
    out.error = 'no RPM-GPG-KEY-* found beside the file';
    return out;
  }
  try {
    const key = await openpgp.readKey({ armoredKey: readFileSync(keyFile, 'utf8') });
    const v = await openpgp.verify({
      message: await openpgp.createMessage({ binary: data }),
      signature: sig,
      verificationKeys: key,
      expectSigned: true,
    });
    await v.signatures[0].verified;
    out.verified = true;
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

function findKey(dir: string): string | undefined {
  for (const d of [dir, dirname(dir)]) {
    const f = existsSync(d) ? readdirSync(d).find((n) => n.startsWith('RPM-GPG-KEY-')) : undefined;
    if (f) return join(d, f);
  }
  return undefined;
}

export interface RpmRead {
  lead: { name: string };
  sig: ParsedHeader;
  header: ParsedHeader;
  headerStart: number;
  payload: Buffer;
}

export function readRpm(buf: Buffer): RpmRead {
  if (buf.length < 96 || buf.readUInt32BE(0) !== 0xedabeedb)
    throw new Error('not an RPM file (no lead magic)');
  const sig = readHeader(buf, 96);
  const headerStart = sig.end + ((8 - (sig.end % 8)) % 8);
  const header = readHeader(buf, headerStart);
  const z = buf.indexOf(0, 10);
  return {
    lead: { name: buf.toString('utf8', 10, z < 10 || z > 76 ? 76 : z) },
    sig,
    header,
    headerStart,
    payload: buf.subarray(header.end),
  };
}

/** The payload's files (path without "/", mode, data), decompressed as the header says. */
export async function payloadFiles(buf: Buffer): Promise<ReturnType<typeof readCpio>> {
  const r = readRpm(buf);
  const how = r.header.tags.get(TAG.PAYLOADCOMPRESSOR)?.value;
  const cpio =
    how === 'xz' ? await decompressXz(r.payload) : how === 'gzip' ? gunzipSync(r.payload) : r.payload;
  return readCpio(cpio);
}

export async function inspectRpm(path: string): Promise<unknown> {
  const buf = readFileSync(path);
  const r = readRpm(buf);
  const h = r.header.tags;
  const sv = (m: ParsedHeader['tags'], t: number) => m.get(t)?.value;
  const str = (t: number) => (sv(h, t) as string | undefined) ?? null;
  const arr = (t: number) => (sv(h, t) ?? []) as string[];
  const num = (t: number) => (sv(h, t) ?? []) as number[];
  const dirs = arr(TAG.DIRNAMES);
  const files = arr(TAG.BASENAMES).map((b, i) => ({
    path: dirs[num(TAG.DIRINDEXES)[i]] + b,
    mode: `0${num(TAG.FILEMODES)[i].toString(8)}`,
    size: num(TAG.FILESIZES)[i],
    user: arr(TAG.FILEUSERNAME)[i],
    group: arr(TAG.FILEGROUPNAME)[i],
    flags: num(TAG.FILEFLAGS)[i],
    sha256: arr(TAG.FILEDIGESTS)[i] || null,
  }));
  const digests = {
    headerSha256: sv(r.sig.tags, SIGTAG.SHA256) === sha256(r.header.blob),
    headerSha1: sv(r.sig.tags, SIGTAG.SHA1) === hex('sha1', r.header.blob),
    payloadSha256: arr(TAG.PAYLOADDIGEST)[0] === sha256(r.payload),
    md5:
      (sv(r.sig.tags, SIGTAG.MD5) as Buffer | undefined)?.toString('hex') ===
      hex('md5', r.header.blob, r.payload),
    size:
      (sv(r.sig.tags, SIGTAG.SIZE) as number[] | undefined)?.[0] === r.header.blob.length + r.payload.length,
  };
  const sigBytes = (sv(r.sig.tags, SIGTAG.RSA) ?? sv(r.sig.tags, SIGTAG.DSA)) as Buffer | undefined;
  const signature = sigBytes
    ? await verifyDetached(
        Buffer.from(r.header.blob),
        await openpgp.readSignature({ binarySignature: sigBytes }),
        findKey(dirname(resolve(path))),
      )
    : { verified: false, keyId: null, algorithm: null, created: null, error: 'unsigned' };
  const deps = (n: number, f: number, v: number) =>
    arr(n).map((name, i) => ({ name, flags: num(f)[i], version: arr(v)[i] || null }));
  return {
    format: 'rpm',
    path,
    size: buf.length,
    sha256: sha256(buf),
    name: str(TAG.NAME),
    version: str(TAG.VERSION),
    release: str(TAG.RELEASE),
    arch: str(TAG.ARCH),
    summary: str(TAG.SUMMARY),
    license: str(TAG.LICENSE),
    vendor: str(TAG.VENDOR),
    packager: str(TAG.PACKAGER),
    url: str(TAG.URL),
    buildTime: num(TAG.BUILDTIME)[0] ?? null,
    payload: { compressor: str(TAG.PAYLOADCOMPRESSOR), size: buf.length - r.header.end },
    headerRange: { start: r.headerStart, end: r.header.end },
    files,
    requires: deps(TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION),
    provides: deps(TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION),
    scripts: Object.fromEntries(
      (
        [
          ['pre', TAG.PREIN],
          ['post', TAG.POSTIN],
          ['preun', TAG.PREUN],
          ['postun', TAG.POSTUN],
        ] as const
      ).map(([k, t]) => [k, str(t)]),
    ),
    digests,
    signature,
    allVerified: Object.values(digests).every(Boolean) && signature.verified,
  };
}

export async function inspectRpmRepo(dir: string): Promise<unknown> {
  const md = join(dir, 'repodata', 'repomd.xml');
  const repomd = readFileSync(md);
  const key = findKey(dir);
  const asc = `${md}.asc`;
  const signature = existsSync(asc)
    ? await verifyDetached(
        repomd,
        await openpgp.readSignature({ armoredSignature: readFileSync(asc, 'utf8') }),
        key,
      )
    : { verified: false, keyId: null, algorithm: null, created: null, error: 'no repodata/repomd.xml.asc' };
  const text = repomd.toString('utf8');
  const data = [...text.matchAll(/<data type="([^"]+)">([\s\S]*?)<\/data>/g)].map(([, type, body]) => {
    const get = (re: RegExp) => re.exec(body)?.[1] ?? '';
    const href = get(/<location href="([^"]+)"/);
    const f = join(dir, href);
    const gz = existsSync(f) ? readFileSync(f) : undefined;
    let open: Buffer | undefined;
    try {
      open = gz && gunzipSync(gz);
    } catch {
      /* reported as not ok */
    }
    const ok =
      !!gz &&
      !!open &&
      sha256(gz) === get(/<checksum type="sha256">([0-9a-f]+)</) &&
      gz.length === Number(get(/<size>(\d+)</)) &&
      sha256(open) === get(/<open-checksum type="sha256">([0-9a-f]+)</) &&
      open.length === Number(get(/<open-size>(\d+)</));
    return { type, href, ok, xml: open?.toString('utf8') };
  });
  const primary = data.find((d) => d.type === 'primary')?.xml ?? '';
  const packages = [...primary.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)].map(([, body]) => {
    const get = (re: RegExp) => re.exec(body)?.[1] ?? '';
    const href = get(/<location href="([^"]+)"/);
    const f = join(dir, href);
    const rpm = existsSync(f) ? readFileSync(f) : undefined;
    const sha = get(/<checksum type="sha256" pkgid="YES">([0-9a-f]+)</);
    const size = Number(get(/<size package="(\d+)"/));
    return {
      name: get(/<name>([^<]*)</),
      arch: get(/<arch>([^<]*)</),
      version: get(/<version [^>]*ver="([^"]*)"/),
      release: get(/<version [^>]*rel="([^"]*)"/),
      href,
      size,
      sha256Ok: !!rpm && rpm.length === size && sha256(rpm) === sha,
    };
  });
  const repoFile = readdirSync(dir).find((n) => n.endsWith('.repo'));
  return {
    format: 'rpm-repo',
    path: dir,
    signature,
    key: key ? basename(key) : null,
    repoFile: repoFile ?? null,
    metadata: data.map(({ type, href, ok }) => ({ type, href, ok })),
    packages,
    allVerified:
      signature.verified &&
      data.length === 3 &&
      data.every((d) => d.ok) &&
      packages.length > 0 &&
      packages.every((p) => p.sha256Ok),
  };
}

/** The rhel target's inspect readers (Target.readers): an .rpm by its lead magic, a repository by repodata/repomd.xml. */
export const RHEL_READERS: readonly Reader[] = [
  {
    name: 'rpm',
    match: (_p, h, dir) => !dir && h.length >= 4 && h.readUInt32BE(0) === 0xedabeedb,
    read: inspectRpm,
  },
  {
    name: 'rpm-repo',
    match: (p, _h, dir) => dir && existsSync(join(p, 'repodata', 'repomd.xml')),
    read: inspectRpmRepo,
  },
];
