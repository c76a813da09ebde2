// The fleet commands (docs/fleet.md): `ca init`, `ca sign`, `keygen --csr NAME` and `enroll
// NAME`. The certificates are engine/src/tunnel/fleet/'s business; this is the CLI edge around it,
// loaded only for these commands. Exit codes: 0 ok, 64 usage, 65 bad request or name
// (EX_DATAERR), 73 a file exists or cannot be written (EX_CANTCREAT; keys are never replaced).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { caInit, caSign, keygenCsr, enroll, CA_FILES } from '../tunnel/fleet/ca.ts';
import { PkiProblem } from '../tunnel/fleet/pki.ts';
import { serviceKeyHint } from './keygen.ts';

export interface FleetOutcome {
  code: number;
  out: string;
  err: string;
}

const ok = (lines: string[]): FleetOutcome => ({ code: 0, out: `${lines.join('\n')}\n`, err: '' });

function failed(e: unknown, what: string): FleetOutcome {
  if (e instanceof PkiProblem)
    return {
      code: /already exists/.test(e.message) ? 73 : 65,
      out: '',
      err: `edgewan: ${what}: ${e.message}\n`,
    };
  const err = e as NodeJS.ErrnoException;
  if (err.code)
    return { code: 73, out: '', err: `edgewan: ${what}: cannot write ${err.path ?? ''} (${err.code})\n` };
  throw e;
}

function days(v: string | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

export function caInitCommand(
  out: string,
  coreName: string | undefined,
  d: string | undefined,
): FleetOutcome {
  try {
    const r = caInit(out, { coreName, days: days(d) });
    return ok([
      ...r.files.map((f) => `wrote ${f}`),
      `core: set tunnel.auth.keyDir "${out}", tunnel.auth.ca "${join(out, CA_FILES.cert)}" and tunnel.auth.revoked "${join(out, CA_FILES.revoked)}"`,
      `keep ${join(out, CA_FILES.key)} (0600) private: whoever holds it can enrol edges`,
      serviceKeyHint([join(out, 'core.key')]),
    ]);
  } catch (e) {
    return failed(e, 'ca init');
  }
}

export function caSignCommand(
  caDir: string,
  csrFile: string,
  outFile: string | undefined,
  name: string | undefined,
  d: string | undefined,
): FleetOutcome {
  let text: string;
  try {
    text = readFileSync(csrFile, 'utf8');
  } catch (e) {
    return {
      code: 65,
      out: '',
      err: `edgewan: ca sign: cannot read the request ${csrFile} (${(e as NodeJS.ErrnoException).code})\n`,
    };
  }
  const out = outFile ?? join(dirname(csrFile), `${basename(csrFile).replace(/\.(csr|pem)$/, '')}.crt`);
  try {
    if (existsSync(out)) throw new PkiProblem(`${out} already exists; it is kept (give --out another file)`);
    const r = caSign(caDir, text, { expectName: name, days: days(d) });
    writeFileSync(out, r.certPem, { mode: 0o644, flag: 'wx' });
    return ok([
      `signed edge "${r.name}": wrote ${out}`,
      `copy ${out} (as edge.crt) and ${join(caDir, CA_FILES.cert)} into the edge's tunnel.auth.keyDir`,
    ]);
  } catch (e) {
    return failed(e, 'ca sign');
  }
}

export function keygenCsrCommand(name: string, out: string): FleetOutcome {
  try {
    const r = keygenCsr(name, out);
    return ok([
      `wrote ${r.key} (0600: it stays on this box)`,
      `wrote ${r.csr}`,
      `on the core: edgewan ca sign --ca CA_DIR --csr edge.csr --name ${name}; then put edge.crt and ca.crt into ${out}`,
      serviceKeyHint([r.key]),
    ]);
  } catch (e) {
    return failed(e, 'keygen --csr');
  }
}

export function enrollCommand(
  caDir: string,
  name: string,
  out: string | undefined,
  d: string | undefined,
): FleetOutcome {
  const dir = out ?? join(caDir, 'edges', name);
  try {
    const r = enroll(caDir, name, dir, { days: days(d) });
    return ok([
      ...r.files.map((f) => `wrote ${f}`),
      `copy ${dir} to the edge as its tunnel.auth.keyDir (a lab path: the key was made here)`,
      `there, ${serviceKeyHint(['edge.key'])}`,
    ]);
  } catch (e) {
    return failed(e, 'enroll');
  }
}
