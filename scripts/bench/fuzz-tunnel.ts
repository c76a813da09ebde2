// `npm run fuzz:tunnel [-- --cases N --seed S]`: the long frame-decoder fuzz run (default 10^6).
import { fuzzFrames } from '../../engine/test/codec-frame-fuzz.ts';

const args = process.argv.slice(2);
const arg = (k: string, d: number) => {
  const i = args.indexOf(k);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const cases = arg('--cases', 1_000_000);
const seed = arg('--seed', Date.now() % 1e9);
const t0 = Date.now();
const r = fuzzFrames(seed, cases);
process.stdout.write(`${JSON.stringify({ cases, seed, ...r, seconds: (Date.now() - t0) / 1000 })}\n`);
