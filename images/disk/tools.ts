// Host command lookup for the disk target's pre-flight checks.
import { spawnSync } from 'node:child_process';

export function haveCommand(cmd: string): boolean {
  return (
    spawnSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], {
      stdio: 'ignore',
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    }).status === 0
  );
}
