// Argument parsing for `edgewan-build push` (the oci target's `push`, images/oci/index.ts, is `pushOci`).
// The builder's CLI passes only positional arguments, so every option also has an
// environment form: EDGEWAN_PUSH_PLAIN_HTTP=1, EDGEWAN_PUSH_MOUNT_FROM, EDGEWAN_PUSH_LAYOUT,
// EDGEWAN_REGISTRY_USERNAME / EDGEWAN_REGISTRY_PASSWORD. Without those, credentials come
// from Docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
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

export function parsePushArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  defaultLayout: string,
): PushOptions & { json?: boolean; help?: boolean } {
  const o: Partial<PushOptions> & { json?: boolean; help?: boolean } = {
    layout: env.EDGEWAN_PUSH_LAYOUT ?? defaultLayout,
    plainHttp: env.EDGEWAN_PUSH_PLAIN_HTTP === '1' || undefined,
    mountFrom: env.EDGEWAN_PUSH_MOUNT_FROM || undefined,
  };
  let username = env.EDGEWAN_REGISTRY_USERNAME;
  let password = env.EDGEWAN_REGISTRY_PASSWORD;
  let passwordStdin = false;
  const args = [...argv];
  const val = (flag: string) => {
    const v = args.shift();
    if (v === undefined)
      throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `${flag} needs a value\n${PUSH_USAGE}`);
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
    else if (a === '-h' || a === '--help') return { ...(o as PushOptions), help: true };
    else if (a.startsWith('-'))
      throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `unknown option ${a}\n${PUSH_USAGE}`);
    else if (o.ref)
      throw new PushError(
        'EDGEWAN_ERR_PUSH_USAGE',
        `one reference only (got ${o.ref} and ${a})\n${PUSH_USAGE}`,
      );
    else o.ref = a;
  }
  if (!o.ref) throw new PushError('EDGEWAN_ERR_PUSH_USAGE', `missing the target reference\n${PUSH_USAGE}`);
  if (o.chunkSize !== undefined && !(o.chunkSize > 0))
    throw new PushError('EDGEWAN_ERR_PUSH_USAGE', '--chunk-size must be a positive number of bytes');
  if (passwordStdin) password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (username && password !== undefined) o.credentials = { username, password };
  else if (username)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_USAGE',
      '--username needs --password-stdin (or EDGEWAN_REGISTRY_PASSWORD)',
    );
  o.dockerConfig = join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  return o as PushOptions;
}

/** Standalone entry: `node --import tsx images/oci/push-cli.ts [options] REF`. */
export async function pushMain(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const o = parsePushArgs(argv, process.env, join(process.cwd(), 'dist', 'oci', 'layout'));
  if (o.help) {
    out(`${PUSH_USAGE}\n`);
    return 0;
  }
  const r = await push({ ...o, log: (m) => process.stderr.write(`${m}\n`) });
  out(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${r.ref}@${r.digest}\n`);
  return 0;
}

/** The oci target's publisher (Target.push; args: REF, options as above). */
export async function pushOci(opts: {
  outDir: string;
  args: string[];
  json: boolean;
  log: (m: string) => void;
}): Promise<unknown> {
  const o = parsePushArgs(opts.args, process.env, join(opts.outDir, 'oci', 'layout'));
  const r = await push({ ...o, log: opts.log });
  if (!opts.json) process.stdout.write(`${r.ref}@${r.digest}\n`);
  return r;
}
