// `npm test`: every stage CI runs, fast ones first, slow ones last (docs/build.md, "Tests").
//   0. host tools           every tool the selected stages (and the build) need, installed in
//                           one apt-get call as root (scripts/hosttools.ts; test/helpers/tools.ts)
//   1. typecheck            tsc --noEmit over the whole repo, then prettier --check (.prettierrc.json)
//   2. engine unit          engine/test on the host's Node
//   3. builder unit         test/unit
//   4. engine compat        engine/test again on Node 18.20.8 and 20.11.0 (pinned runtimes)
//   5. build                the default build into dist/ (cached, so a no-op when current)
//   6. integration          test/integration (uses dist/)
//   7. acceptance           test/acceptance with real third-party tools, in file-name order
// Prints one closing line "N passed, N failed, N skipped"; exit 1 when anything failed.
// `npm test -- --only unit,integration` runs a subset; `--grep NAME` filters files. Only a
// subset run or EDGEWAN_TEST_SKIP_TOOLS=1 may skip a test (a missing tool, no build); in the
// plain full run a skipped test counts as a failure. Each stage gets its own TMPDIR, removed
// when the stage ends, so a test that fails half-way leaves nothing in /tmp.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatError } from './errors.ts';
import { ensureHostTools, HostToolsError, missingNeeds, type HostNeed } from './hosttools.ts';
import { hostToolsLog } from './paths.ts';
import { TEST_NEEDS } from '../test/helpers/tools.ts';

const ROOT = join(import.meta.dirname, '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

interface Totals {
  pass: number;
  fail: number;
  skip: number;
}
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

/** Runs fn with a fresh TMPDIR for the stage's processes; removes it (and what tests left) after. */
function withStageTmp<T>(stage: string, fn: (env: NodeJS.ProcessEnv) => T): T {
  const dir = mkdtempSync(join(tmpdir(), `edgewan-test-${stage.replace(/[^a-z0-9]+/gi, '-')}-`));
  try {
    return fn({ TMPDIR: dir });
  } finally {
    // a test that died inside a chroot may have left a mount below: unmount before removing
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m?.startsWith(`${dir}/`));
    for (const m of mounts.sort().reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    const left = readdirSync(dir);
    if (left.length) {
      const names = [...new Set(left.map((n) => n.replace(/[-_.]?[A-Za-z0-9]{6}$/, '-*')))]
        .slice(0, 8)
        .join(', ');
      console.log(
        `== ${stage}: removed ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} left in ${dir} (${names})`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function runNodeTests(stage: string, node: string, files: string[], env: NodeJS.ProcessEnv = {}): void {
  if (files.length === 0) {
    console.log(`\n== ${stage}: no test files`);
    return;
  }
  console.log(
    `\n== ${stage}: ${files.length} file(s) on ${node === process.execPath ? `node ${process.version}` : node}`,
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  const tap = join(ARTIFACTS, `${stage.replace(/[^a-z0-9]+/gi, '-')}.tap`);
  rmSync(tap, { force: true });
  const t0 = Date.now();
  const r = withStageTmp(stage, (tmp) =>
    spawnSync(
      node,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=1',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tap}`,
        ...files,
      ],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...tmp, ...env } },
    ),
  );
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const num = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const pass = num('pass');
  const fail = num('fail');
  const skip = num('skipped') + num('todo');
  totals.pass += pass;
  totals.fail += fail;
  totals.skip += skip;
  if (r.status !== 0 || fail > 0 || !text) {
    failedStages.push(stage);
    if (fail === 0) totals.fail += 1; // the runner itself failed (crash, no TAP): count it
  }
  console.log(
    `== ${stage}: ${pass} passed, ${fail} failed, ${skip} skipped (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
}

function runStep(stage: string, cmd: string, args: string[]): boolean {
  console.log(`\n== ${stage}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = withStageTmp(stage, (tmp) =>
    spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...tmp } }),
  );
  const ok = r.status === 0;
  if (ok) totals.pass += 1;
  else {
    totals.fail += 1;
    failedStages.push(stage);
  }
  console.log(
    `== ${stage}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
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
  // a subset the user asked for may skip what it lacks; the plain full run may not
  if (only || grep) process.env.EDGEWAN_TEST_SUBSET = '1';
  const skipsOk = !!(only || grep) || process.env.EDGEWAN_TEST_SKIP_TOOLS === '1';
  const withBuild = want('build') && (want('integration') || want('acceptance'));

  // 0. Host tools: every selected stage's, and the build's, in one apt-get call.
  const needs: HostNeed[] = [];
  for (const stage of ['unit', 'integration', 'acceptance'])
    if (want(stage)) needs.push(...TEST_NEEDS[stage]);
  if (withBuild) needs.push(...(await import('./build.ts')).plannedNeeds({}));
  if (process.env.EDGEWAN_TEST_SKIP_TOOLS === '1') {
    const miss = missingNeeds(needs, process.env);
    if (miss.length)
      console.log(
        `\n== host tools: NOT installing ${miss.length} missing tool(s) (EDGEWAN_TEST_SKIP_TOOLS=1): ${miss.map((n) => n.what).join(', ')}`,
      );
  } else {
    try {
      const t0 = Date.now();
      const installed = ensureHostTools(needs, {
        env: process.env,
        who: 'npm test',
        log: (m) => console.log(`== host tools: ${m}`),
        logFile: hostToolsLog(process.env),
      });
      if (installed.length)
        console.log(
          `== host tools: installed ${installed.length} package(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
        );
    } catch (e) {
      if (!(e instanceof HostToolsError)) throw e;
      console.error(`\nnpm test: ${formatError(e)}`);
      console.log('0 passed, 1 failed, 0 skipped');
      return 1;
    }
  }

  if (want('typecheck'))
    runStep('typecheck', process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.json',
      '--noEmit',
    ]);
  // The formatter's check belongs to the typecheck stage: `npm run format` fixes what it names.
  if (want('typecheck'))
    runStep('format check', process.execPath, [
      join(ROOT, 'node_modules/prettier/bin/prettier.cjs'),
      '--check',
      '**/*.{ts,mts,mjs}',
    ]);
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
  if (withBuild && (integration.length || acceptance.length)) {
    runStep('build', process.execPath, [join(ROOT, 'bin/edgewan-build.mjs'), 'build']);
  }
  if (want('integration')) runNodeTests('integration', process.execPath, integration);
  if (want('acceptance')) runNodeTests('acceptance', process.execPath, acceptance);

  if (totals.skip > 0 && !skipsOk) {
    // the README's plain command must never end "N passed, 0 failed, M skipped"
    console.log(
      `\n${totals.skip} test(s) SKIPPED in a full run: counted as failures (a tool or build output was missing; see above)`,
    );
    totals.fail += totals.skip;
    failedStages.push('skipped tests');
  } else if (totals.skip > 0) {
    console.log(
      `\n!! ${totals.skip} test(s) SKIPPED (${only || grep ? 'subset run' : 'EDGEWAN_TEST_SKIP_TOOLS=1'}): this is not a full pass`,
    );
  }
  console.log(`\nfailed stages: ${failedStages.length ? failedStages.join('; ') : 'none'}`);
  console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped`);
  return totals.fail > 0 ? 1 : 0;
}

process.exitCode = await main();
