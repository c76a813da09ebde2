// OCI distribution API client (https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md):
// HEAD for existence, monolithic and chunked blob uploads, cross-repository mount,
// manifest PUT, with Basic/Bearer auth on 401 and retries with exponential backoff on
// network errors, 429 and 5xx. Every PUT's Docker-Content-Digest is checked.
import { basicHeader, fetchBearer, parseWwwAuthenticate, PushError, type Credentials } from './auth.ts';
import type { Blob } from './blobs.ts';

export interface RegistryOptions {
  registry: string;
  repository: string;
  plainHttp?: boolean;
  credentials?: Credentials;
  retries?: number;
  backoffMs?: number;
  log?: (msg: string) => void;
  fetchFn?: typeof fetch;
}

interface Req {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  scopes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RegistryClient {
  readonly base: string;
  private readonly auth = new Map<string, string>();
  private readonly fetchFn: typeof fetch;
  /** bytes and blobs sent in upload bodies (tests check a second push sends nothing) */
  readonly stats = {
    blobsUploaded: 0,
    bytesUploaded: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
    manifestsPut: 0,
    manifestsSkipped: 0,
  };

  constructor(private readonly o: RegistryOptions) {
    this.base = `${o.plainHttp ? 'http' : 'https'}://${o.registry}/v2/${o.repository}`;
    this.fetchFn = o.fetchFn ?? fetch;
  }

  private get pushScope(): string {
    return `repository:${this.o.repository}:pull,push`;
  }

  /** One request with auth negotiation and retries; returns the final response. */
  private async send(r: Req): Promise<Response> {
    const retries = this.o.retries ?? 4;
    const key = r.scopes.join(' ');
    let authTried = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...r.headers };
      const a = this.auth.get(key) ?? this.auth.get('*');
      if (a) headers.authorization = a;
      let res: Response;
      try {
        res = await this.fetchFn(r.url, { method: r.method, headers, body: r.body, redirect: 'follow' });
      } catch (e) {
        if (attempt >= retries) {
          throw new PushError(
            'EDGEWAN_ERR_PUSH_UNREACHABLE',
            `registry ${this.o.registry} unreachable (${r.method} ${new URL(r.url).pathname}): ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}; check the address and --plain-http`,
            { cause: e },
          );
        }
        await this.backoff(attempt, `${r.method} failed: ${(e as Error).message}`);
        continue;
      }
      if (res.status === 401 && !authTried) {
        authTried = true;
        await res.arrayBuffer();
        await this.authenticate(res.headers.get('www-authenticate') ?? '', r.scopes, key);
        attempt--; // an auth round trip is not a failed attempt
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        const detail = (await res.text()).slice(0, 300);
        throw new PushError(
          'EDGEWAN_ERR_PUSH_AUTH',
          `registry ${this.o.registry} refused ${r.method} ${new URL(r.url).pathname} (HTTP ${res.status})${this.o.credentials ? ` for user "${this.o.credentials.username}"` : ' without credentials'}${detail.trim() ? `: ${detail.trim()}` : ''}: wrong or missing credentials — check EDGEWAN_REGISTRY_USERNAME/_PASSWORD (or --username/--password-stdin) or the auths in ~/.docker/config.json`,
        );
      }
      if ((res.status === 429 || res.status >= 500) && attempt < retries) {
        await res.arrayBuffer();
        await this.backoff(attempt, `HTTP ${res.status}`);
        continue;
      }
      return res;
    }
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    const ms = (this.o.backoffMs ?? 250) * 2 ** attempt;
    this.o.log?.(`push: ${why}; retrying in ${ms} ms`);
    await sleep(ms);
  }

  private async authenticate(header: string, scopes: string[], key: string): Promise<void> {
    const chs = parseWwwAuthenticate(header);
    const bearer = chs.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.auth.set(key, await fetchBearer(bearer, scopes, this.o.credentials, this.fetchFn));
      return;
    }
    if (chs.some((c) => c.scheme === 'basic')) {
      if (!this.o.credentials)
        throw new PushError(
          'EDGEWAN_ERR_PUSH_AUTH',
          `registry ${this.o.registry} needs credentials (Basic): pass --username and --password-stdin, or docker login`,
        );
      this.auth.set('*', basicHeader(this.o.credentials));
      return;
    }
    throw new PushError(
      'EDGEWAN_ERR_PUSH_AUTH',
      `registry ${this.o.registry} answered 401 with an unsupported challenge "${header}"`,
    );
  }

  private async expect(res: Response, ok: number[], what: string): Promise<Response> {
    if (ok.includes(res.status)) return res;
    const body = (await res.text()).slice(0, 300).trim();
    throw new PushError(
      'EDGEWAN_ERR_PUSH_HTTP',
      `registry ${this.o.registry}: ${what} failed with HTTP ${res.status}: ${body}`,
    );
  }

  private abs(location: string | null, what: string): URL {
    if (!location)
      throw new PushError(
        'EDGEWAN_ERR_PUSH_HTTP',
        `registry ${this.o.registry}: ${what} returned no Location header`,
      );
    return new URL(location, this.base);
  }

  private checkDigest(res: Response, want: string, what: string): void {
    const got = res.headers.get('docker-content-digest');
    if (got && got !== want) {
      throw new PushError(
        'EDGEWAN_ERR_PUSH_DIGEST',
        `registry ${this.o.registry} stored ${what} as ${got}, but we sent ${want}: the upload was altered in transit or the registry rewrote it; nothing was tagged`,
      );
    }
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.send({
      method: 'HEAD',
      url: `${this.base}/blobs/${digest}`,
      scopes: [this.pushScope],
    });
    await res.arrayBuffer();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return (await this.expect(res, [200, 404], `HEAD blob ${digest}`)).status === 200;
  }

  /** Cross-repository mount; falls back to an upload session when the registry declines. */
  async mountOrUpload(b: Blob, from: string | undefined, chunkSize: number): Promise<void> {
    let start: Response;
    if (from) {
      start = await this.send({
        method: 'POST',
        url: `${this.base}/blobs/uploads/?mount=${encodeURIComponent(b.digest)}&from=${encodeURIComponent(from)}`,
        scopes: [this.pushScope, `repository:${from}:pull`],
      });
      if (start.status === 201) {
        await start.arrayBuffer();
        this.stats.blobsMounted++;
        return;
      }
    } else {
      start = await this.send({
        method: 'POST',
        url: `${this.base}/blobs/uploads/`,
        scopes: [this.pushScope],
      });
    }
    await this.expect(start, [202], `starting upload of ${b.digest}`);
    await start.arrayBuffer();
    let loc = this.abs(start.headers.get('location'), 'POST blobs/uploads');
    if (b.size > chunkSize) {
      for (let off = 0; off < b.size; off += chunkSize) {
        const part = b.data.subarray(off, Math.min(off + chunkSize, b.size));
        const res = await this.expect(
          await this.send({
            method: 'PATCH',
            url: loc.href,
            body: part,
            scopes: [this.pushScope],
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${off}-${off + part.length - 1}`,
              'content-length': String(part.length),
            },
          }),
          [202],
          `uploading bytes ${off}-${off + part.length - 1} of ${b.digest}`,
        );
        await res.arrayBuffer();
        loc = this.abs(res.headers.get('location'), 'PATCH upload');
        this.stats.bytesUploaded += part.length;
      }
      loc.searchParams.set('digest', b.digest);
      const res = await this.expect(
        await this.send({
          method: 'PUT',
          url: loc.href,
          scopes: [this.pushScope],
          headers: { 'content-length': '0' },
        }),
        [201],
        `finishing upload of ${b.digest}`,
      );
      await res.arrayBuffer();
      this.checkDigest(res, b.digest, 'blob');
    } else {
      loc.searchParams.set('digest', b.digest);
      const res = await this.expect(
        await this.send({
          method: 'PUT',
          url: loc.href,
          body: b.data,
          scopes: [this.pushScope],
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
        }),
        [201],
        `uploading ${b.digest}`,
      );
      await res.arrayBuffer();
      this.checkDigest(res, b.digest, 'blob');
      this.stats.bytesUploaded += b.size;
    }
    this.stats.blobsUploaded++;
  }

  /** Digest the registry holds for a tag or digest, or undefined. */
  async manifestDigest(ref: string, accept: string[]): Promise<string | undefined> {
    const res = await this.send({
      method: 'HEAD',
      url: `${this.base}/manifests/${ref}`,
      scopes: [this.pushScope],
      headers: { accept: accept.join(', ') },
    });
    await res.arrayBuffer();
    if (res.status === 404) return undefined;
    await this.expect(res, [200], `HEAD manifest ${ref}`);
    return res.headers.get('docker-content-digest') ?? undefined;
  }

  async putManifest(ref: string, m: Blob): Promise<void> {
    const res = await this.expect(
      await this.send({
        method: 'PUT',
        url: `${this.base}/manifests/${ref}`,
        body: m.data,
        scopes: [this.pushScope],
        headers: { 'content-type': m.mediaType, 'content-length': String(m.size) },
      }),
      [201],
      `PUT manifest ${ref}`,
    );
    await res.arrayBuffer();
    this.checkDigest(res, m.digest, `manifest ${ref}`);
    this.stats.manifestsPut++;
  }
}
