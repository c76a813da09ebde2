// Public face of the config module: components import types from here; main.ts loads.
export {
  loadConfig,
  resolveDocument,
  ENV_OVERRIDES,
  isLoopback,
  hostOf,
  type LoadOptions,
  type LoadResult,
} from './load.ts';
export { ConfigError, type ConfigProblem } from './errors.ts';
export { CONFIG_SCHEMA } from './validate.ts';
export { parseSize, formatBytes } from '../../size.ts';
export type * from './types.ts';
