// Types of the precompiled validator (see validator-source.ts).
import type { ValidateFunction } from 'ajv';
declare const validate: ValidateFunction;
export = validate;
