// Argument parsing for `edgewan-build push` (scripts/cli.ts dispatches here). Credentials
// come from --username + --password-stdin, else EDGEWAN_REGISTRY_USERNAME/_PASSWORD, else
// Docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PushError } from './auth.ts';
import { push, type PushOptions } from './push.ts';

export const PUSH_USAGE = `usage: edgewan-build push [options] REGISTRY/REPOSITORY[:TAG]
  --layout PATH        OCI layout dir or oci-archive (default dist/oci/layout)
  --source-ref NAME    image in index.json to push when it holds several
  --plain-http         talk HTTP, not HTTPS (loopback test registries)
  --username USER      with --password-stdin: read the password from stdin
  --mount-from REPO    try cross-repository mounts from REPO on the same registry
  --chunk-size BYTES   upload blobs larger than this in chunks (default 16777216)
  --json               print the result as JSON`;

export async function pushMain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const o: Partial<PushOptions> & { json?: boolean } = { layout: join(process.cwd(), 'dist', 'oci', 'layout') };
  let username = process.env.EDGEWAN_REGISTRY_USERNAME;
  let password = process.env.EDGEWAN_REGISTRY_PASSWORD;
  let passwordStdin = false;
  const args = [...argv];
  const val = (flag: string) => {
    const v = args.shift();
    if (v === undefined) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `${flag} needs a value\n${PUSH_USAGE}`);
    return v;
  };
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === '--layout') o.layout = val(a);
    else if (a === '--source-ref') o.sourceRef = val(a);
    else if (a === '--plain-http') o.plainHttp = true;
    else if (a === '--username') username = val(a);
    else if (a === '--password-stdin') passwordStdin = true;
    else if (a === '--mount-from') o.mountFrom = val(a);
    else if (a === '--chunk-size') o.chunkSize = Number(val(a));
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') { out(`${PUSH_USAGE}\n`); return 0; }
    else if (a.startsWith('-')) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `unknown option ${a}\n${PUSH_USAGE}`);
    else if (o.ref) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `one reference only (got ${o.ref} and ${a})\n${PUSH_USAGE}`);
    else o.ref = a;
  }
  if (!o.ref) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `missing the target reference\n${PUSH_USAGE}`);
  if (o.chunkSize !== undefined && !(o.chunkSize > 0)) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', '--chunk-size must be a positive number of bytes');
  if (passwordStdin) password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (username && password !== undefined) o.credentials = { username, password };
  else if (username) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', '--username needs --password-stdin (or EDGEWAN_REGISTRY_PASSWORD)');
  const dockerDir = process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  const r = await push({ ...(o as PushOptions), dockerConfig: join(dockerDir, 'config.json'), log: (m) => process.stderr.write(`${m}\n`) });
  out(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.ref}@${r.digest}\n`);
  return 0;
}
