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
  keygen --csr NAME [--out DIR]
                            fleet edge: a key (0600, stays here) and a request for NAME
  ca init --out DIR [--core-name NAME] [--days N]
                            fleet core: a CA and the core's certificate
  ca sign --ca DIR --csr FILE [--name NAME] [--out FILE] [--days N]
                            fleet core: sign an edge's request
  enroll NAME --ca DIR [--out DIR] [--days N]
                            lab: key, certificate and ca.crt for edge NAME in one step
  healthcheck [--config F]  exit 0 iff /readyz answers 200 (default config
                            /etc/edgewan/edgewan.json when present, plus EDGEWAN_*)

Options:
  --version                 print version, commit, runtime and architecture
  --help                    print this help

Environment overrides: EDGEWAN_ROLE, EDGEWAN_STATE_DIR, EDGEWAN_MEMORY_LIMIT,
EDGEWAN_ADMIN_LISTEN, EDGEWAN_ADMIN_TOKEN, EDGEWAN_LOG_LEVEL. Exit codes: 0 ok,
1 unhealthy, 64 usage, 65 bad request or name, 73 keys exist/cannot write, 70 restart intensity exceeded, 78 invalid configuration.
`;

function usage(msg: string): number {
  process.stderr.write(`edgewan: EDGEWAN_ERR_USAGE: ${msg}; run "edgewan --help"\n`);
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

function fleetResult(r: { code: number; out: string; err: string }): number {
  process.stdout.write(r.out);
  process.stderr.write(r.err);
  return r.code;
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
      const csr = option(rest, '--csr');
      if (rest.includes('--csr') && !csr) return usage('keygen --csr needs the edge NAME');
      if (csr) return fleetResult((await import('./cli/fleet.ts')).keygenCsrCommand(csr, out));
      return (await import('./cli/commands.ts')).keygenCommand(out);
    }
    case 'ca': {
      const f = await import('./cli/fleet.ts');
      const sub = rest[0];
      if (sub === 'init') {
        const out = option(rest, '--out');
        if (!out) return usage('ca init needs --out DIR');
        return fleetResult(f.caInitCommand(out, option(rest, '--core-name'), option(rest, '--days')));
      }
      if (sub === 'sign') {
        const ca = option(rest, '--ca');
        const csr = option(rest, '--csr');
        if (!ca || !csr) return usage('ca sign needs --ca DIR and --csr FILE');
        return fleetResult(
          f.caSignCommand(ca, csr, option(rest, '--out'), option(rest, '--name'), option(rest, '--days')),
        );
      }
      return usage('ca needs "init" or "sign"');
    }
    case 'enroll': {
      const name = rest[0] && !rest[0].startsWith('-') ? rest[0] : undefined;
      const ca = option(rest, '--ca');
      if (!name || !ca) return usage('enroll needs NAME and --ca DIR');
      return fleetResult(
        (await import('./cli/fleet.ts')).enrollCommand(
          ca,
          name,
          option(rest, '--out'),
          option(rest, '--days'),
        ),
      );
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
    process.stderr.write(
      `edgewan: EDGEWAN_ERR_INTERNAL: internal error${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}\n`,
    );
    process.exit(70);
  },
);
