// The engine ↔ package contract (engine/contract.ts) against every user of it: the engine
// (which imports heap cap, heap flags and exit codes from it, and whose schema defaults must
// agree), the systemd unit, the procd init script (shell arithmetic run by the real sh) and
// the OCI run files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as contract from '../../engine/contract.ts';
import { heapCapMiB as engineHeapCap } from '../../engine/src/memory/policy.ts';
import { heapFlags as engineHeapFlags } from '../../engine/src/memory/reexec.ts';
import { EXIT as ENGINE_EXIT } from '../../engine/src/cli/run.ts';
import { composeYaml, runReadme, type RunFacts } from '../../images/oci/compose.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { renderUnit } from '../../targets/formats/apt/systemd.ts';
import { info } from './deb-fixture.ts';

const MIB = 1048576;
const LIMITS_MIB = [32, 48, 64, 96, 127, 128, 130, 200, 256, 512, 1024, 4096];
const json = (rel: string) => JSON.parse(readFileSync(join(REPO_ROOT, rel), 'utf8'));

test('the engine takes heap cap, heap flags and exit codes from the contract (no copies)', () => {
  assert.equal(
    engineHeapCap,
    contract.heapCapMiB,
    "engine/src/memory/policy.ts re-exports the contract's heapCapMiB",
  );
  assert.equal(
    engineHeapFlags,
    contract.heapFlags,
    "engine/src/memory/reexec.ts re-exports the contract's heapFlags",
  );
  assert.equal(ENGINE_EXIT, contract.EXIT, "engine/src/cli/run.ts re-exports the contract's EXIT");
});

test("the engine ships the contract's defaults", () => {
  const schema = json('engine/schema/config.schema.json');
  assert.equal(schema.properties.supervisor.properties.graceS.default, contract.DEFAULT_GRACE_S);
  assert.equal(json('engine/schema/default-config.json').admin.listen, contract.ADMIN_LISTEN);
});

test('the systemd unit renders the contract', () => {
  const pkg = info({ memoryMaxBytes: 128 * MIB });
  const unit = renderUnit(pkg);
  const p = contract.devicePaths(pkg.name);
  for (const line of [
    `ExecStart=${p.exec} run --config ${p.config}`,
    `WorkingDirectory=${p.stateDir}`,
    `User=${contract.serviceUser(pkg.name)}`,
    `Group=${contract.serviceUser(pkg.name)}`,
    `TimeoutStopSec=${contract.killTimeoutS(contract.DEFAULT_GRACE_S)}`,
    `RestartPreventExitStatus=${contract.EXIT.CONFIG}`,
    `StartLimitIntervalSec=${contract.RESTART.intervalS}`,
    `StartLimitBurst=${contract.RESTART.burst}`,
    `MemoryMax=${128 * MIB}`,
    `Environment="NODE_OPTIONS=${contract.heapFlags(contract.heapCapMiB(128 * MIB))}"`,
  ])
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  const graced = renderUnit(info({ defaultConfig: { supervisor: { graceS: 9 } } }));
  assert.ok(graced.includes(`\nTimeoutStopSec=${contract.killTimeoutS(9)}\n`));
});

test("the procd init script computes the contract's heap flags, kill timeout and restart limits", () => {
  const init = readFileSync(join(REPO_ROOT, 'targets/formats/openwrt/files/init.sh'), 'utf8');
  const start = init.indexOf('\theap=$((UCI_MEMORY_MAX_BYTES');
  const end = init.indexOf('\tprocd_open_instance', start);
  assert.ok(start > 0 && end > start, 'init.sh no longer computes heap/semi the way this test expects');
  for (const mib of LIMITS_MIB) {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `UCI_MEMORY_MAX_BYTES=${mib * MIB}\n${init.slice(start, end)}\necho "--max-old-space-size=$heap --max-semi-space-size=$semi"`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      contract.heapFlags(contract.heapCapMiB(mib * MIB)),
      `memory limit ${mib} MiB`,
    );
  }
  assert.match(
    init,
    new RegExp(
      `\\tprocd_set_param term_timeout \\$\\(\\(UCI_GRACE_S \\+ ${contract.KILL_AFTER_GRACE_S}\\)\\)\\n`,
    ),
  );
  assert.match(
    init,
    new RegExp(`\\tprocd_set_param respawn ${contract.RESTART.intervalS} \\d+ ${contract.RESTART.burst}\\n`),
  );
});

test("the OCI run files give the contract's kill timeout", () => {
  const facts: RunFacts = {
    image: 'e:1',
    name: 'e',
    memoryMaxBytes: 128 * MIB,
    graceS: 7,
    version: '1',
    files: { layout: 'layout', ociArchive: 'e.oci.tar', dockerArchives: {} },
  };
  assert.match(composeYaml(facts), new RegExp(`stop_grace_period: ${contract.killTimeoutS(7)}s\\n`));
  assert.match(runReadme(facts), new RegExp(`--stop-timeout ${contract.killTimeoutS(7)}\\b`));
});
