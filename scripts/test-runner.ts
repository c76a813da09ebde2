// `npm test`: every stage CI runs, fast ones first, slow ones last (INTERFACES.md, "Tests").
//   1. typecheck            tsc --noEmit over the whole repo
//   2. engine unit          engine/test on the host's Node
//   3. builder unit         test/unit
//   4. engine compat        engine/test again on Node 18.20.8 and 20.11.0 (pinned runtimes)
//   5. build                the default build into dist/ (cached, so a no-op when current)
//   6. integration          test/integration (uses dist/)
//   7. acceptance           test/acceptance with real third-party tools, in file-name order
// Prints one closing line "N passed, N failed, N skipped"; exit 1 when anything failed.
// `npm test -- --only unit,integration` runs a subset; `--grep NAME` filters files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

interface Totals { pass: number; fail: number; skip: number; }
const totals: Totals = { pass: 0, fail: 0, skip: 0 };
const failedStages: string[] = [];

function listTests(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.ts')) out.push(relative(ROOT, p));
    }
  };
  walk(abs);
  return out;
}

function runNodeTests(stage: string, node: string, files: string[], env: NodeJS.ProcessEnv = {}): void {
  if (files.length === 0) {
    console.log(`\n== ${stage}: no test files`);
    return;
  }
  console.log(`\n== ${stage}: ${files.length} file(s) on ${node === process.execPath ? `node ${process.version}` : node}`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const tap = join(ARTIFACTS, `${stage.replace(/[^a-z0-9]+/gi, '-')}.tap`);
  rmSync(tap, { force: true });
  const t0 = Date.now();
  const r = spawnSync(node, [
    '--import', 'tsx', '--test', '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files,
  ], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const num = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const pass = num('pass'); const fail = num('fail'); const skip = num('skipped') + num('todo');
  totals.pass += pass; totals.fail += fail; totals.skip += skip;
  if (r.status !== 0 || fail > 0 || !text) {
    failedStages.push(stage);
    if (fail === 0) totals.fail += 1; // the runner itself failed (crash, no TAP): count it
  }
  console.log(`== ${stage}: ${pass} passed, ${fail} failed, ${skip} skipped (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function runStep(stage: string, cmd: string, args: string[]): boolean {
  console.log(`\n== ${stage}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  const ok = r.status === 0;
  if (ok) totals.pass += 1; else { totals.fail += 1; failedStages.push(stage); }
  console.log(`== ${stage}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return ok;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const onlyIdx = args.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',')) : undefined;
  const grepIdx = args.indexOf('--grep');
  const grep = grepIdx >= 0 ? args[grepIdx + 1] : undefined;
  const want = (s: string) => !only || only.has(s);
  const pick = (files: string[]) => (grep ? files.filter((f) => f.includes(grep)) : files);

  if (want('typecheck')) runStep('typecheck', process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
  const engineTests = pick(listTests('engine/test'));
  if (want('unit')) {
    runNodeTests('engine unit', process.execPath, engineTests);
    runNodeTests('builder unit', process.execPath, pick(listTests('test/unit')));
  }
  if (want('compat')) {
    const { testRuntimePath, TEST_RUNTIMES } = await import('./runtimes.ts');
    for (const version of TEST_RUNTIMES) {
      const node = await testRuntimePath(version);
      runNodeTests(`engine compat node ${version}`, node, engineTests);
    }
  }
  const integration = pick(listTests('test/integration'));
  const acceptance = pick(listTests('test/acceptance'));
  if ((want('integration') || want('acceptance')) && (integration.length || acceptance.length) && want('build')) {
    runStep('build', process.execPath, [join(ROOT, 'bin/edgewan-build.mjs'), 'build']);
  }
  if (want('integration')) runNodeTests('integration', process.execPath, integration);
  if (want('acceptance')) runNodeTests('acceptance', process.execPath, acceptance);

  console.log(`\nfailed stages: ${failedStages.length ? failedStages.join('; ') : 'none'}`);
  console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped`);
  return totals.fail > 0 ? 1 : 0;
}

process.exitCode = await main();
