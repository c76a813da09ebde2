// Targets build into a staging directory the build gives each of them (dist/.stage-<pid>/
// <target>/); this module orders them by what they need from each other and publishes the
// staged trees into dist/ in one place, after every target has succeeded. Like ko's build vs
// publish: a target returns its files and artifacts.json entries, the build writes dist/.
//
// Publishing moves with rename (the stage is inside dist/, so the same filesystem): a staged
// directory that dist/ does not have yet moves whole, keeping the modes the target gave it;
// a path a target owns (Target.owns) and every directory artifact (an apt suite, a feed, an
// OCI layout) replaces what an earlier build left there whole, so stale packages vanish with
// it; any other file replaces its namesake. A failed target leaves dist/ as it was.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Artifact, ArtifactType, BuildInputs, Target } from '../targets/target.ts';
import { BuildError } from './errors.ts';

/**
 * The targets in run order: registry order, except that a target runs after every selected
 * target that provides an artifact type it needs.
 */
export function orderByNeeds(targets: readonly Target[]): Target[] {
  const provides = (p: Target, t: Target) => p !== t && (t.needs ?? []).some((n) => p.provides?.includes(n));
  const providers = (t: Target) => targets.filter((p) => provides(p, t));
  const done: Target[] = [];
  while (done.length < targets.length) {
    const ready = (t: Target) => !done.includes(t) && providers(t).every((p) => done.includes(p));
    const next = targets.find(ready);
    if (!next) {
      const left = targets
        .filter((t) => !done.includes(t))
        .map((t) => `${t.name} (needs ${(t.needs ?? []).join(', ')})`);
      const msg = `targets need each other's artifacts in a circle: ${left.join('; ')}`;
      throw new BuildError('EDGEWAN_ERR_BUILD_TARGET', msg);
    }
    done.push(next);
  }
  return done;
}

/** A staged target's output: where it wrote, what it made, which dist/ paths it replaces. */
export interface Staged {
  target: Target;
  dir: string;
  artifacts: Artifact[];
}

/** The artifacts of earlier targets of this build that `t` needs, with the directory their paths are relative to. */
export function neededBy(t: Target, staged: readonly Staged[]): NonNullable<BuildInputs['needed']>[number][] {
  const want = new Set<ArtifactType>(t.needs ?? []);
  return staged.flatMap((s) =>
    s.artifacts.filter((a) => want.has(a.type)).map((artifact) => ({ artifact, root: s.dir })),
  );
}

/** dist/-relative paths published whole: the target's own claims and its directory artifacts. */
export function wholePaths(s: Staged): string[] {
  return [...(s.target.owns ?? []), ...s.artifacts.filter((a) => a.index).map((a) => a.path)];
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** Move one target's staged tree into outDir. */
function publishOne(s: Staged, outDir: string, trash: string): void {
  const whole = wholePaths(s);
  let n = 0;
  // Parents dist/ lacks get the modes the target gave them in the stage (not the umask).
  const mkdirLike = (rel: string) => {
    if (rel === '.' || rel === '' || existsSync(join(outDir, rel))) return;
    mkdirLike(dirname(rel));
    mkdirSync(join(outDir, rel));
    const staged = join(s.dir, rel);
    if (existsSync(staged)) chmodSync(join(outDir, rel), statSync(staged).mode & 0o7777);
  };
  const replace = (rel: string) => {
    const dest = join(outDir, rel);
    if (existsSync(dest) || isLink(dest)) renameSync(dest, join(trash, `${s.target.name}-${n++}`));
    const src = join(s.dir, rel);
    if (existsSync(src)) {
      mkdirLike(dirname(rel));
      renameSync(src, dest);
    }
  };
  // Owned paths first, outermost first (a directory artifact inside an owned path goes with it).
  const sorted = [...new Set(whole)].sort((a, b) => a.length - b.length);
  const done: string[] = [];
  for (const rel of sorted) {
    if (done.some((d) => inside(rel, d))) continue;
    replace(rel);
    done.push(rel);
  }
  const walk = (rel: string) => {
    for (const name of readdirSync(join(s.dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const src = join(s.dir, r);
      const dest = join(outDir, r);
      if (lstatSync(src).isDirectory() && existsSync(dest) && lstatSync(dest).isDirectory()) walk(r);
      else replace(r);
    }
  };
  walk('');
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Publish every staged target into outDir, in run order, then remove the stage. */
export function publish(staged: readonly Staged[], outDir: string, stageDir: string): void {
  const trash = join(stageDir, '.replaced');
  mkdirSync(trash, { recursive: true });
  for (const s of staged) {
    for (const a of s.artifacts) {
      if (!existsSync(join(s.dir, a.path))) {
        const where = relative(outDir, s.dir);
        throw new BuildError(
          'EDGEWAN_ERR_BUILD_TARGET',
          `target ${s.target.name} listed ${a.path} but did not write it under ${where}`,
        );
      }
    }
  }
  for (const s of staged) publishOne(s, outDir, trash);
  rmSync(stageDir, { recursive: true, force: true });
}
