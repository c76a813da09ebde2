// `edgewan keygen --out DIR`: tunnel credentials for /etc/edgewan/keys (docs/contract.md, "Files
// on devices"). The credentials themselves are the tunnel's business (tunnel/credentials.ts:
// self-signed P-256 certificates pinned by SHA-256); this is only the CLI edge around it,
// loaded lazily so other commands never pay for the tunnel code.

export interface KeygenOutcome { code: number; out: string; err: string }

export async function keygen(dir: string): Promise<KeygenOutcome> {
  const { generateCredentials } = await import('../tunnel/index.ts');
  try {
    const r = generateCredentials(dir);
    const lines = r.files.map((f) => `wrote ${f}`);
    for (const [role, pin] of Object.entries(r.pins)) lines.push(`pin of ${role}.crt: ${pin}`);
    lines.push('copy the directory to both peers (keys stay 0640, readable by the edgewan group)');
    return { code: 0, out: `${lines.join('\n')}\n`, err: '' };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const msg = err.code ? `EDGEWAN_ERR_KEYGEN_WRITE: cannot write into ${dir} (${err.code}); choose a writable --out directory` : err.message;
    // 73 = EX_CANTCREAT: existing keys are kept, never overwritten
    return { code: 73, out: '', err: `edgewan: ${msg}\n` };
  }
}
