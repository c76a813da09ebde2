// The fleet CA directory and the edge's key directory, as the CLI commands make them
// (docs/fleet.md):
//   edgewan ca init --out DIR      DIR/ca.key (0600) ca.crt, core.key (0600) core.crt, revoked.txt, issued.tsv
//   edgewan keygen --csr NAME      (edge) OUT/edge.key (0600) and OUT/edge.csr; the key stays there
//   edgewan ca sign                (core) checks the request, writes the edge's certificate
//   edgewan enroll NAME            (lab) key, certificate and ca.crt for one edge in one step
// Private keys are written 0600 and never overwritten; every certificate issued is appended
// to DIR/issued.tsv (serial, name, role, notAfter) so revoking by serial has the serials.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import {
  issue,
  makeCsr,
  newKey,
  readCsr,
  readKey,
  readCert,
  normSerial,
  PkiProblem,
  type FleetRole,
} from './pki.ts';
import { edgeNameProblem } from './names.ts';
import { writeFileAtomicSync } from '../../fs/atomic.ts';

export const CA_FILES = {
  key: 'ca.key',
  cert: 'ca.crt',
  revoked: 'revoked.txt',
  issued: 'issued.tsv',
} as const;

function writeNew(path: string, text: string, mode: number): void {
  if (existsSync(path))
    throw new PkiProblem(`${path} already exists; it is kept (move it away first to replace it)`);
  writeFileAtomicSync(path, text, { mode });
}

function record(caDir: string, cert: string, role: FleetRole): void {
  const x = new X509Certificate(cert);
  const name = /CN=([^\n]*)/.exec(x.subject)?.[1] ?? '';
  appendFileSync(
    join(caDir, CA_FILES.issued),
    `${normSerial(x.serialNumber)}\t${name}\t${role}\t${new Date(Date.parse(x.validTo)).toISOString()}\n`,
    { mode: 0o644 },
  );
}

function days(n: number | undefined): Date | undefined {
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < 1 || n > 36500)
    throw new PkiProblem(`--days ${n} is not a whole number of days from 1 to 36500`);
  return new Date(Date.now() + n * 86400_000);
}

export interface CaInitResult {
  dir: string;
  files: string[];
}

/** A new CA plus the core's certificate (name `coreName`, default "core"). */
export function caInit(dir: string, opts: { coreName?: string; days?: number } = {}): CaInitResult {
  const coreName = opts.coreName ?? 'core';
  const bad = edgeNameProblem(coreName);
  if (bad) throw new PkiProblem(`bad core name: ${bad}`);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  for (const f of [CA_FILES.key, 'core.key'])
    if (existsSync(join(dir, f)))
      throw new PkiProblem(
        `${join(dir, f)} already exists; a fleet CA is made once (move the directory away to start a new fleet: every edge would need a new certificate)`,
      );
  const ca = newKey();
  const caName = `edgewan-fleet-ca-${Date.now().toString(36)}`;
  const caCert = issue({
    subject: caName,
    publicKey: ca.publicKey,
    issuer: { name: caName, key: ca.privateKey },
    kind: 'ca',
    notAfter: new Date(Date.now() + 20 * 365 * 86400_000),
  });
  const core = newKey();
  const coreCert = issue({
    subject: coreName,
    publicKey: core.publicKey,
    issuer: { name: caName, key: ca.privateKey },
    kind: 'core',
    notAfter: days(opts.days),
  });
  const files: Array<[string, string, number]> = [
    [CA_FILES.key, ca.pem, 0o600],
    [CA_FILES.cert, caCert, 0o644],
    ['core.key', core.pem, 0o600],
    ['core.crt', coreCert, 0o644],
  ];
  for (const [f, text, mode] of files) writeNew(join(dir, f), text, mode);
  if (!existsSync(join(dir, CA_FILES.revoked)))
    writeFileAtomicSync(
      join(dir, CA_FILES.revoked),
      '# one revoked edge per line: its name, or serial:HEX (see issued.tsv)\n',
      { mode: 0o644 },
    );
  record(dir, coreCert, 'core');
  return { dir, files: [...files.map(([f]) => join(dir, f)), join(dir, CA_FILES.revoked)] };
}

function loadCa(caDir: string): { name: string; key: ReturnType<typeof readKey>; cert: X509Certificate } {
  const read = (f: string) => {
    try {
      return readFileSync(join(caDir, f));
    } catch (e) {
      throw new PkiProblem(
        `cannot read ${join(caDir, f)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); --ca names the directory "edgewan ca init --out DIR" made`,
      );
    }
  };
  const key = readKey(read(CA_FILES.key), join(caDir, CA_FILES.key));
  const cert = readCert(read(CA_FILES.cert), join(caDir, CA_FILES.cert));
  if (!cert.ca || !cert.checkPrivateKey(key))
    throw new PkiProblem(
      `${join(caDir, CA_FILES.cert)} is not the CA certificate of ${join(caDir, CA_FILES.key)}`,
    );
  return { name: /CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '', key, cert };
}

/** Sign an edge's request; `expectName`, when given, must be the name the request carries. */
export function caSign(
  caDir: string,
  csrText: string,
  opts: { expectName?: string; days?: number } = {},
): { name: string; certPem: string; caPem: string } {
  const ca = loadCa(caDir);
  const req = readCsr(csrText);
  if (opts.expectName !== undefined && opts.expectName !== req.name)
    throw new PkiProblem(`the request is for "${req.name}", not "${opts.expectName}"`);
  const certPem = issue({
    subject: req.name,
    publicKey: req.publicKey,
    issuer: { name: ca.name, key: ca.key },
    kind: 'edge',
    notAfter: days(opts.days),
  });
  record(caDir, certPem, 'edge');
  return { name: req.name, certPem, caPem: ca.cert.toString() };
}

/** Edge side: OUT/edge.key (0600) and OUT/edge.csr for `name`. */
export function keygenCsr(name: string, outDir: string): { key: string; csr: string } {
  const bad = edgeNameProblem(name);
  if (bad) throw new PkiProblem(`bad edge name: ${bad}`);
  mkdirSync(outDir, { recursive: true, mode: 0o750 });
  const keyPath = join(outDir, 'edge.key');
  if (existsSync(keyPath))
    throw new PkiProblem(`${keyPath} already exists; it is kept (move it away first to make a new key)`);
  const k = newKey();
  const csrPath = join(outDir, 'edge.csr');
  writeNew(keyPath, k.pem, 0o600);
  writeFileAtomicSync(csrPath, makeCsr(name, k.privateKey), { mode: 0o644 });
  return { key: keyPath, csr: csrPath };
}

/** Lab path: key, request and certificate for `name` made on the CA box, into outDir. */
export function enroll(
  caDir: string,
  name: string,
  outDir: string,
  opts: { days?: number } = {},
): { files: string[] } {
  loadCa(caDir); // before writing anything
  const { key, csr } = keygenCsr(name, outDir);
  const signed = caSign(caDir, readFileSync(csr, 'utf8'), { expectName: name, days: opts.days });
  writeNew(join(outDir, 'edge.crt'), signed.certPem, 0o644);
  writeNew(join(outDir, CA_FILES.cert), signed.caPem, 0o644);
  return { files: [key, csr, join(outDir, 'edge.crt'), join(outDir, CA_FILES.cert)] };
}
