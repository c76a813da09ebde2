// Engine composition root: argv → command. Thin; the work lives in the modules it wires
// (cli/run.ts for the service, cli/commands.ts for the rest). Exit codes (docs/contract.md):
// 0 ok, 1 unhealthy (healthcheck), 64 usage, 70 restart intensity / internal fault,
// 78 invalid configuration. Bad input never produces a stack trace.
import { versionLine } from './buildinfo.ts';

const HELP = `Usage: edgewan <command> [options]

Commands:
  run --config FILE         run the service
  check-config FILE         validate a config file (exit 0, or 78 with errors)
  print-config FILE         print the resolved config with defaults filled in
  print-schema              print the config JSON Schema
  keygen --out DIR          create tunnel credentials (default /etc/edgewan/keys)
  healthcheck [--config F]  exit 0 iff /readyz answers 200 (default config
                            /etc/edgewan/edgewan.json when present, plus EDGEWAN_*)

Options:
  --version                 print version, commit, runtime and architecture
  --help                    print this help

Environment overrides: EDGEWAN_ROLE, EDGEWAN_STATE_DIR, EDGEWAN_MEMORY_LIMIT,
EDGEWAN_ADMIN_LISTEN, EDGEWAN_ADMIN_TOKEN, EDGEWAN_LOG_LEVEL. Exit codes: 0 ok,
1 unhealthy, 64 usage, 73 keys exist/cannot write, 70 restart intensity exceeded, 78 invalid configuration.
`;

function usage(msg: string): number {
  process.stderr.write(`edgewan: ${msg}; run "edgewan --help"\n`);
  return 64;
}

/** Value of --name VALUE or --name=VALUE. */
function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

function positional(args: string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const [cmd, ...rest] = argv;
  const env = process.env;
  switch (cmd) {
    case 'run': {
      const file = option(rest, '--config') ?? positional(rest);
      if (!file) return usage('run needs --config FILE');
      const { runCommand } = await import('./cli/run.ts');
      return runCommand(file, env);
    }
    case 'check-config':
    case 'print-config': {
      const file = positional(rest) ?? option(rest, '--config');
      if (!file) return usage(`${cmd} needs a FILE`);
      const c = await import('./cli/commands.ts');
      return cmd === 'check-config' ? c.checkConfig(file, env) : c.printConfig(file, env);
    }
    case 'print-schema':
      return (await import('./cli/commands.ts')).printSchema();
    case 'healthcheck':
      return (await import('./cli/commands.ts')).healthcheck(option(rest, '--config'), env);
    case 'keygen': {
      const out = option(rest, '--out') ?? '/etc/edgewan/keys';
      return (await import('./cli/commands.ts')).keygenCommand(out);
    }
    default:
      return usage(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // components may hold timers or sockets until the very end: the exit code is final
    process.exitCode = code;
    if (code !== 0 || process.argv[2] === 'run') process.stdout.write('', () => process.exit(code));
  },
  (err: Error) => {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`edgewan: internal error${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}\n`);
    process.exit(70);
  },
);
