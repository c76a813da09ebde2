// Bundle step: esbuild turns engine/src/main.ts into ONE CommonJS file for Node 18
// (docs/contract.md, "Runtimes"), minified, with an external source map, the version and commit
// stamped in (engine/src/buildinfo.ts), and the notices of every third-party package that
// ends up in it collected beside it. Cached on the exact input files esbuild read last time.
// The DNS UDP worker (engine/src/dns/worker-main.ts) is bundled first, on its own, and
// embedded as a string (__EDGEWAN_DNS_WORKER__): a worker thread in a single executable
// cannot load a file, so the engine starts it with `new Worker(code, { eval: true })`.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { BuildError } from './errors.ts';
import { sha256, sha256File } from './fsutil.ts';
import { bundledPackages, licenseNotices, type BundledPackage } from './packages.ts';
import { StepCache, restoreFile, type CacheEntry } from './cache.ts';

export interface BundleOptions {
  root: string;
  outDir: string;
  version: string;
  commit: string;
  /** product name/license for the notices header */
  self: { name: string; license: string };
  cache: StepCache;
}

export interface BundleResult {
  bundle: string;
  map: string;
  licenses: string;
  /** packages in the bundle (no license texts), for the SBOM */
  packages: Omit<BundledPackage, 'licenseFiles'>[];
  sha256: string;
  cached: boolean;
}

export const BUNDLE_NAME = 'edgewan.cjs';

// wasm-bindgen's nodejs output reads its .wasm beside it at run time, which a single file
// cannot do: inline it with the `binary` loader instead (docs/platform-notes.md §2).
const inlineWasm: esbuild.Plugin = {
  name: 'inline-wasm-bindgen',
  setup(build) {
    build.onLoad({ filter: /node_modules[\\/].*\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const re =
        /const path = require\('path'\)\.join\(__dirname, '([^']+\.wasm)'\);\s*const bytes = require\('fs'\)\.readFileSync\(path\);/;
      if (!re.test(src)) return undefined;
      return { contents: src.replace(re, "const bytes = require('./$1');"), loader: 'js' };
    });
  },
};

export const DNS_WORKER_ENTRY = 'engine/src/dns/worker-main.ts';

export function esbuildOptions(
  o: Pick<BundleOptions, 'root' | 'version' | 'commit'>,
  dnsWorkerCode?: string,
): esbuild.BuildOptions {
  const alias: Record<string, string> = {};
  // lz4's pure-JS path needs this alias (docs/platform-notes.md §2); only when the package is installed.
  if (existsSync(join(o.root, 'node_modules/lz4/lib/utils-js.js')))
    alias['lz4/lib/utils'] = 'lz4/lib/utils-js';
  return {
    absWorkingDir: o.root,
    entryPoints: ['engine/src/main.ts'],
    // A fixed virtual location, whatever --out is, so the map's relative `sources` never
    // depend on the output directory (reproducible across out dirs).
    outfile: join(o.root, 'dist/bin', BUNDLE_NAME),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    minify: true,
    sourcemap: 'external',
    metafile: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    charset: 'utf8',
    alias,
    loader: { '.wasm': 'binary', '.txt': 'text' },
    define: {
      __EDGEWAN_VERSION__: JSON.stringify(o.version),
      __EDGEWAN_COMMIT__: JSON.stringify(o.commit),
      ...(dnsWorkerCode === undefined ? {} : { __EDGEWAN_DNS_WORKER__: JSON.stringify(dnsWorkerCode) }),
    },
    plugins: [inlineWasm],
  };
}

/**
 * The DNS worker bundle's code (same options as the engine's, no source map). Built on every
 * run (~0.1 s): its text is part of the engine bundle's options, hence of its cache key.
 */
export async function dnsWorkerCode(o: Pick<BundleOptions, 'root' | 'version' | 'commit'>): Promise<string> {
  const base = esbuildOptions(o);
  try {
    const r = await esbuild.build({
      ...base,
      entryPoints: [DNS_WORKER_ENTRY],
      outfile: join(o.root, 'dist/bin/dns-worker.cjs'),
      sourcemap: false,
      metafile: false,
      write: false,
    });
    return r.outputFiles[0].text;
  } catch (e) {
    const errs = (e as { errors?: esbuild.Message[] }).errors ?? [];
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_BUNDLE',
      `esbuild could not bundle ${DNS_WORKER_ENTRY}:\n${errs.map((m) => m.text).join('\n') || String(e)}`,
      { cause: e },
    );
  }
}

interface InputsRecord {
  key: string;
  inputs: Record<string, string>;
  entry: string;
}

/** Rehash the files esbuild read last time; undefined when any changed. */
async function lookup(o: BundleOptions, optsKey: string): Promise<CacheEntry | undefined> {
  const rec = await o.cache.readRecord<InputsRecord>(`bundle-${optsKey}`);
  if (!rec || rec.key !== optsKey) return undefined;
  for (const [p, h] of Object.entries(rec.inputs)) {
    try {
      if ((await sha256File(join(o.root, p))) !== h) return undefined;
    } catch {
      return undefined;
    }
  }
  return o.cache.get(rec.entry);
}

export async function buildBundle(o: BundleOptions): Promise<BundleResult> {
  const opts = esbuildOptions(o, await dnsWorkerCode(o));
  const lock = existsSync(join(o.root, 'package-lock.json'))
    ? sha256(readFileSync(join(o.root, 'package-lock.json')))
    : '';
  const optsKey = StepCache.key({
    step: 'bundle',
    v: 1,
    esbuild: esbuild.version,
    lock,
    self: o.self,
    opts: { ...opts, plugins: undefined, absWorkingDir: undefined, outfile: undefined },
  });
  let entry = await lookup(o, optsKey);
  const cached = !!entry;
  if (!entry) {
    let r: esbuild.BuildResult & { metafile: esbuild.Metafile; outputFiles: esbuild.OutputFile[] };
    try {
      r = (await esbuild.build(opts)) as typeof r;
    } catch (e) {
      const errs = (e as { errors?: esbuild.Message[] }).errors ?? [];
      const msg = errs
        .map(
          (m) =>
            `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''}${m.text}`,
        )
        .join('\n');
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_BUNDLE',
        `esbuild could not bundle engine/src/main.ts:\n${msg || String(e)}`,
        { cause: e },
      );
    }
    const pkgs = bundledPackages(r.metafile, o.root);
    const tmp = await mkdtemp(join(tmpdir(), 'edgewan-bundle-'));
    try {
      const files: Record<string, string> = {};
      for (const f of r.outputFiles) {
        const name = relative(join(o.root, 'dist/bin'), f.path);
        await writeFile(join(tmp, name), f.contents, { mode: 0o644 });
        files[name] = join(tmp, name);
      }
      await writeFile(join(tmp, 'LICENSES'), licenseNotices(o.self, pkgs));
      files[`${BUNDLE_NAME}.LICENSES.txt`] = join(tmp, 'LICENSES');
      const inputs: Record<string, string> = {};
      for (const p of Object.keys(r.metafile.inputs).sort()) {
        if (!p.includes(':')) inputs[p] = await sha256File(join(o.root, p));
      }
      const entryKey = StepCache.key({ optsKey, inputs });
      const packages = pkgs.map(({ licenseFiles: _l, ...rest }) => rest);
      entry = await o.cache.put(entryKey, files, { packages });
      await o.cache.writeRecord(`bundle-${optsKey}`, {
        key: optsKey,
        inputs,
        entry: entryKey,
      } satisfies InputsRecord);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const bin = join(o.outDir, 'bin');
  const bundle = join(bin, BUNDLE_NAME);
  const map = `${bundle}.map`;
  const licenses = `${bundle}.LICENSES.txt`;
  for (const [name, dest] of [
    [BUNDLE_NAME, bundle],
    [`${BUNDLE_NAME}.map`, map],
    [`${BUNDLE_NAME}.LICENSES.txt`, licenses],
  ]) {
    await restoreFile(entry, name, dest);
  }
  return {
    bundle,
    map,
    licenses,
    cached,
    sha256: await sha256File(bundle),
    packages: (entry.meta.packages ?? []) as BundleResult['packages'],
  };
}
