// Registry credentials and challenges: parse WWW-Authenticate (RFC 7235 auth-params, the
// Basic and Bearer schemes the distribution spec uses), read Docker's config.json "auths",
// and fetch Bearer tokens (https://distribution.github.io/distribution/spec/auth/token/).
import { existsSync, readFileSync } from 'node:fs';
import type { BuilderErrorCode } from '../../targets/error-codes.ts';

export interface Credentials {
  username: string;
  password: string;
}
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export class PushError extends Error {
  constructor(
    readonly code: BuilderErrorCode,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

/** Parse one or more challenges: `Bearer realm="…",service="…",scope="…"`, `Basic realm="x"`. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][\w-]*)(?:\s+|$)|\s*([\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?/y;
  let cur: Challenge | undefined;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < header.length && (m = re.exec(header))) {
    if (m[2] !== undefined && cur) {
      const v = m[3];
      cur.params[m[2].toLowerCase()] = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
    } else if (m[1] !== undefined) {
      cur = { scheme: m[1].toLowerCase(), params: {} };
      out.push(cur);
    } else break;
    // skip a separating comma between challenges
    if (header[re.lastIndex] === ',') re.lastIndex++;
  }
  return out;
}

/** Credentials for `registry` from a Docker config.json (auths[host].auth = base64 "user:pass"). */
export function dockerConfigCredentials(registry: string, configPath: string): Credentials | undefined {
  if (!existsSync(configPath)) return undefined;
  let cfg: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    cfg = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new PushError(
      'EDGEWAN_ERR_PUSH_CONFIG',
      `cannot read Docker config ${configPath}: ${(e as Error).message}: fix or remove the file`,
      { cause: e },
    );
  }
  const auths = cfg.auths ?? {};
  const wanted = new Set([
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/v1/`,
    `https://${registry}/v2/`,
  ]);
  if (registry === 'docker.io') wanted.add('https://index.docker.io/v1/');
  for (const [key, a] of Object.entries(auths)) {
    if (!wanted.has(key.replace(/\/+$/, '')) && !wanted.has(key)) continue;
    if (a.auth) {
      const s = Buffer.from(a.auth, 'base64').toString('utf8');
      const i = s.indexOf(':');
      if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) };
    }
    if (a.username && a.password) return { username: a.username, password: a.password };
  }
  return undefined;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** GET the token endpoint named by a Bearer challenge; returns "Bearer <token>". */
export async function fetchBearer(
  ch: Challenge,
  scopes: string[],
  creds: Credentials | undefined,
  fetchFn: typeof fetch,
): Promise<string> {
  const realm = ch.params.realm;
  if (!realm)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_AUTH',
      'registry sent a Bearer challenge without a realm: the registry is misconfigured',
    );
  const url = new URL(realm);
  if (ch.params.service) url.searchParams.set('service', ch.params.service);
  for (const s of scopes) url.searchParams.append('scope', s);
  const headers: Record<string, string> = {};
  if (creds) headers.authorization = basicHeader(creds);
  let res: Response;
  try {
    res = await fetchFn(url, { headers });
  } catch (e) {
    throw new PushError(
      'EDGEWAN_ERR_PUSH_UNREACHABLE',
      `token service ${url.origin} unreachable: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (res.status === 401 || res.status === 403) {
    throw new PushError(
      'EDGEWAN_ERR_PUSH_AUTH',
      `token service ${url.origin} refused the credentials${creds ? ` of user "${creds.username}"` : ' (none given: pass --username/--password-stdin or docker login)'} (HTTP ${res.status})`,
    );
  }
  if (!res.ok)
    throw new PushError(
      'EDGEWAN_ERR_PUSH_AUTH',
      `token service ${url.origin} answered HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`,
    );
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new PushError('EDGEWAN_ERR_PUSH_AUTH', `token service ${url.origin} returned no token`);
  return `Bearer ${token}`;
}
