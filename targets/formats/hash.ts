// SHA-256 as lowercase hex, of bytes or of a file (streamed): the one helper every build step,
// target and reader uses for artifacts.json, indexes and cache keys.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256(data: string | Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
