// xz compression through the `xz` CLI (xz-utils), made deterministic: a fixed thread
// count and preset, CRC64 as dpkg uses.
// Compressing a ~90 MB Node executable takes tens of seconds, so results are cached by the
// hash of the input and the xz version when a cache directory is given (./memo.ts).
import { spawn, spawnSync } from 'node:child_process';
import { memoBytes } from './memo.ts';

// -T2 (a fixed count, not -T0): xz ≥ 5.4 then always uses its multi-threaded encoder with
// the preset's block size, and the block layout — hence the bytes — do not depend on how
// many CPUs the build machine has. It halves the time of the 90 MB executables.
const ARGS = ['-6', '-T2', '--check=crc64', '-c'];
/** the same with another preset (0-9): the block size follows the preset, not the CPU count */
const argsFor = (preset: number) => [`-${preset}`, ...ARGS.slice(1)];

export class XzError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_XZ';
}

let version: string | undefined;
function xzVersion(): string {
  if (version) return version;
  const r = spawnSync('xz', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new XzError('xz not found: apt-get install xz-utils (needed for data.tar.xz)');
  version = r.stdout.split('\n')[0].trim();
  return version;
}

function run(args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('xz', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    p.on('error', (e) => reject(new XzError(`cannot run xz: ${e.message}`, { cause: e })));
    p.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new XzError(`xz ${args.join(' ')} failed (exit ${code}): ${err.trim()}`)),
    );
    p.stdin.on('error', () => {
      /* reported through close */
    });
    p.stdin.end(input);
  });
}

export async function compressXz(data: Buffer, cacheDir?: string, preset = 6): Promise<Buffer> {
  if (!Number.isInteger(preset) || preset < 0 || preset > 9)
    throw new XzError(`xz preset ${preset}: use 0 to 9`);
  const args = argsFor(preset);
  return memoBytes(cacheDir, 'xz', [xzVersion(), args.join(' '), data], () => run(args, data));
}

export function decompressXz(data: Buffer): Promise<Buffer> {
  xzVersion();
  return run(['-d', '-c', '-T1'], data);
}
