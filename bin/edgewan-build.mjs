#!/usr/bin/env node
// Thin launcher for the builder: registers the TypeScript loader, then hands argv to scripts/cli.ts.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../scripts/cli.ts');
process.exitCode = await main(process.argv.slice(2));
