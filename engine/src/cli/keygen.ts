// `edgewan keygen --out DIR`: tunnel credentials for /etc/edgewan/keys (docs/contract.md, "Files
// on devices"). The credentials themselves are the tunnel's business (tunnel/credentials.ts:
// self-signed P-256 certificates pinned by SHA-256); this is only the CLI edge around it,
// loaded lazily so other commands never pay for the tunnel code.

/**
 * The one-line hint after writing a key the service reads: the packages' convention is keys
 * 0640 root:<service group> (docs/fleet.md, "Keys"). The fleet commands write 0600 and keygen
 * 0640 with the writer's group, so each prints the same chgrp/chmod line.
 */
export function serviceKeyHint(keys: string[]): string {
  return `the service reads keys as 0640 root:edgewan (group 10001 in the container): chgrp edgewan ${keys.join(' ')} && chmod 0640 ${keys.join(' ')}`;
}

export interface KeygenOutcome {
  code: number;
  out: string;
  err: string;
}

export async function keygen(dir: string): Promise<KeygenOutcome> {
  const { generateCredentials } = await import('../tunnel/index.ts');
  try {
    const r = generateCredentials(dir);
    const lines = r.files.map((f) => `wrote ${f}`);
    for (const [role, pin] of Object.entries(r.pins)) lines.push(`pin of ${role}.crt: ${pin}`);
    // the keys are written 0640 but with the writer's group: the same hint as the fleet commands
    const keys = r.files.filter((f) => f.endsWith('.key'));
    lines.push('copy the directory to both peers', serviceKeyHint(keys));
    return { code: 0, out: `${lines.join('\n')}\n`, err: '' };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const msg = err.code
      ? `EDGEWAN_ERR_KEYGEN_WRITE: cannot write into ${dir} (${err.code}); choose a writable --out directory`
      : err.message;
    // 73 = EX_CANTCREAT: existing keys are kept, never overwritten
    return { code: 73, out: '', err: `edgewan: ${msg}\n` };
  }
}
