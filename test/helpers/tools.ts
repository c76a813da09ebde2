// Real-tool checks: a test that needs lintian, skopeo, qemu… calls needTool(). Locally a
// missing tool skips the test with the install command; with CI set it is a failure
// (INTERFACES.md, "Tests": a missing tool in CI is never a skip).
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${JSON.stringify(cmd)}`], { stdio: 'ignore' }).status === 0;
}

/** Returns true when the tool exists; otherwise skips (locally) or throws (CI). */
export function needTool(t: TestContext, cmd: string, aptPackage = cmd): boolean {
  if (haveTool(cmd)) return true;
  const msg = `${cmd} not found: apt-get install ${aptPackage}`;
  if (process.env.CI) throw new Error(`${msg} (CI requires every tool; .ci/run must install it)`);
  t.skip(msg);
  return false;
}

/** Root is needed for chroot, ip netns, mounts: same rule as tools. */
export function needRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI) throw new Error('this test needs root (CI runs as root)');
  t.skip('needs root');
  return false;
}
