// The engine's own nftables table (family inet, one per engine), rendered from the compiled
// rules and applied atomically: one `nft -f` of one file that adds, deletes and redefines the
// table in a single transaction, so the ruleset is never half-applied and nothing outside the
// table is touched. Two shapes:
//   active   nat prerouting chain (before fw4's dstnat): matching TCP connections are
//            REDIRECTed to the engine's listener; conntrack keeps the original destination
//   closed   (failClosed, engine stopped) filter forward chain rejecting them with a TCP reset
// and remove (delete the table, nothing else).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledRule } from './config.ts';
import type { Cidr } from './cidr.ts';

export interface TableSpec {
  table: string;
  port: number;
  interfaces: readonly string[];
  rules: readonly CompiledRule[];
}

const set = (items: string[]) => `{ ${items.join(', ')} }`;

/** One match expression per rule and family ("ip daddr {…} ip daddr != {…} tcp dport {…}"). */
function matches(spec: TableSpec): string[] {
  const out: string[] = [];
  for (const r of spec.rules) {
    const ports = set(r.ports.map((p) => (p.lo === p.hi ? String(p.lo) : `${p.lo}-${p.hi}`)));
    for (const [fam, kw] of [
      [4, 'ip'],
      [6, 'ip6'],
    ] as const) {
      const dst = r.destinations.filter((d: Cidr) => d.family === fam).map((d) => d.text);
      if (!dst.length) continue;
      const ex = r.exclude.filter((d: Cidr) => d.family === fam).map((d) => d.text);
      out.push(
        `meta l4proto tcp ${kw} daddr ${set(dst)}${ex.length ? ` ${kw} daddr != ${set(ex)}` : ''} tcp dport ${ports}`,
      );
    }
  }
  return out;
}

function iif(spec: TableSpec): string {
  return spec.interfaces.length
    ? `iifname != ${set(spec.interfaces.map((i) => JSON.stringify(i)))} return\n    `
    : '';
}

function replace(table: string, body: string): string {
  return (
    `# written by edgewan; replaced or removed as a whole (nft list table inet ${table})\n` +
    `table inet ${table}\ndelete table inet ${table}\ntable inet ${table} {\n${body}}\n`
  );
}

export function renderActive(spec: TableSpec): string {
  const lines = matches(spec)
    .map((m) => `    ${m} counter redirect to :${spec.port}\n`)
    .join('');
  return replace(
    spec.table,
    `  chain prerouting {\n    type nat hook prerouting priority dstnat - 10; policy accept;\n` +
      `    fib daddr type local return\n    ${iif(spec)}`.replace(/ +$/, '') +
      lines +
      '  }\n',
  );
}

export function renderClosed(spec: TableSpec): string {
  const lines = matches(spec)
    .map((m) => `    ${m} counter reject with tcp reset\n`)
    .join('');
  return replace(
    spec.table,
    `  chain forward {\n    type filter hook forward priority filter - 10; policy accept;\n    ${iif(spec)}`.replace(
      / +$/,
      '',
    ) +
      lines +
      '  }\n',
  );
}

export function renderRemove(table: string): string {
  return `table inet ${table}\ndelete table inet ${table}\n`;
}

/** Run `nft -f` on the text; rejects with nft's own message. */
export function applyNft(text: string, nft = 'nft'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgewan-nft-'));
  const file = join(dir, 'table.nft');
  writeFileSync(file, text);
  return new Promise<void>((resolve, reject) => {
    execFile(nft, ['-f', file], { timeout: 10_000 }, (err, _out, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (!err) {
        resolve();
        return;
      }
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT')
        reject(
          new Error(
            `EDGEWAN_ERR_INTERCEPT_NFT: ${nft} not found (install nftables; OpenWRT 24.10+ ships it with fw4)`,
          ),
        );
      else
        reject(
          new Error(
            `EDGEWAN_ERR_INTERCEPT_NFT: nft -f failed, nothing changed: ${String(stderr).trim() || e.message}`,
          ),
        );
    });
  });
}

/** Is the table there? (false also when nft cannot run: then applying fails with the reason) */
export function tableExists(table: string, nft = 'nft'): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(nft, ['list', 'table', 'inet', table], { timeout: 10_000 }, (err) => resolve(!err));
  });
}
