// Facts stamped in by the bundler (esbuild `define`); defaults when run from source.
declare const __EDGEWAN_VERSION__: string | undefined;
declare const __EDGEWAN_COMMIT__: string | undefined;

export const VERSION: string = typeof __EDGEWAN_VERSION__ === 'string' ? __EDGEWAN_VERSION__ : '0.0.0-dev';
export const COMMIT: string = typeof __EDGEWAN_COMMIT__ === 'string' ? __EDGEWAN_COMMIT__ : 'unknown';

/** The one-line `--version` answer; the builder parses `arch=` from it (keep the shape). */
export function versionLine(): string {
  return `edgewan ${VERSION} commit=${COMMIT} runtime=node-${process.version} arch=${process.arch} platform=${process.platform}`;
}
