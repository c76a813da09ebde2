// Engine composition root: argv → command. Thin; the work lives in the modules it wires.
import { versionLine } from './buildinfo.ts';

const HELP = `Usage: edgewan <command> [options]

Commands:
  run --config FILE         run the service
  check-config FILE         validate a config file (exit 0, or 78 with errors)
  print-config FILE         print the resolved config with defaults filled in
  print-schema              print the config JSON Schema
  keygen --out DIR          create tunnel credentials
  healthcheck [--config F] exit 0 iff /readyz answers 200

Options:
  --version                 print version, commit, runtime and architecture
  --help                    print this help
`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (argv.length === 0 || argv.includes('--help') || argv[0] === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  process.stderr.write(`edgewan: unknown command "${argv[0]}"; run "edgewan --help"\n`);
  return 64;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
