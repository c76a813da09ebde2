// Fleet identity without a network: edge names, the CA commands' files and modes, requests
// (signature, key type, name), the member check (chain, validity, role, name), the revocation
// list, and the config checks that `check-config` and `run` share (JSON pointers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { tmp } from './tunnel-helpers.ts';
import { edgeNameProblem } from '../src/tunnel/fleet/names.ts';
import { caInit, caSign, enroll, keygenCsr } from '../src/tunnel/fleet/ca.ts';
import { checkMember, issue, makeCsr, newKey, readCsr, PkiProblem } from '../src/tunnel/fleet/pki.ts';
import { parseRevocationList, isRevoked } from '../src/tunnel/fleet/revocation.ts';
import { der, seq, name as cnName, ECDSA_SHA256, pem } from '../src/tunnel/credentials.ts';
import { resolveDocument } from '../src/config/load.ts';
import { ConfigError } from '../src/config/errors.ts';

test('edge names are one lower-case DNS label', () => {
  for (const ok of ['a', 'branch-1', 'x'.repeat(63), '0', 'b2b']) assert.equal(edgeNameProblem(ok), null, ok);
  for (const [bad, why] of [
    ['', /empty/],
    ['x'.repeat(64), /63/],
    ['Branch1', /lower case \(try "branch1"\)/],
    ['a.b', /only hold/],
    ['a_b', /only hold/],
    ['-a', /starts or ends/],
    ['a-', /starts or ends/],
    ['a b', /only hold/],
    ['ä', /only hold/],
  ] as const) {
    assert.match(edgeNameProblem(bad) ?? '', why, bad);
  }
});

test('ca init: CA and core certificate, keys 0600, never overwritten; enroll and ca sign issue edge certificates', () => {
  const dir = join(tmp('ewF-'), 'ca');
  const r = caInit(dir);
  for (const f of ['ca.key', 'core.key']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  assert.ok(r.files.includes(join(dir, 'revoked.txt')));
  const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
  assert.equal(ca.ca, true);
  const core = new X509Certificate(readFileSync(join(dir, 'core.crt')));
  const c = checkMember(core, ca, 'core');
  assert.ok(c.ok && c.id.name === 'core');
  assert.throws(() => caInit(dir), /already exists/);

  const out = join(tmp('ewF-'), 'b1');
  enroll(dir, 'branch-1', out);
  assert.equal(statSync(join(out, 'edge.key')).mode & 0o777, 0o600);
  const edge = new X509Certificate(readFileSync(join(out, 'edge.crt')));
  const e = checkMember(edge, ca, 'edge');
  assert.ok(e.ok, JSON.stringify(e));
  assert.equal(e.ok && e.id.name, 'branch-1');
  assert.equal(edge.subjectAltName, 'DNS:branch-1');
  assert.ok(edge.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'edge.key')))));
  // an edge certificate is not a core certificate, and the reverse
  const asCore = checkMember(edge, ca, 'core');
  assert.ok(!asCore.ok && asCore.reason === 'wrong-role');
  const asEdge = checkMember(core, ca, 'edge');
  assert.ok(!asEdge.ok && asEdge.reason === 'wrong-role');
  assert.match(readFileSync(join(dir, 'issued.tsv'), 'utf8'), /\tbranch-1\tedge\t/);

  // keygen --csr on the edge, ca sign on the core: the key never leaves the edge's dir
  const e2 = join(tmp('ewF-'), 'b2');
  const k = keygenCsr('branch-2', e2);
  assert.throws(() => keygenCsr('branch-2', e2), /already exists/);
  const signed = caSign(dir, readFileSync(k.csr, 'utf8'), { expectName: 'branch-2' });
  assert.ok(new X509Certificate(signed.certPem).checkPrivateKey(createPrivateKey(readFileSync(k.key))));
  assert.throws(
    () => caSign(dir, readFileSync(k.csr, 'utf8'), { expectName: 'branch-3' }),
    /is for "branch-2", not "branch-3"/,
  );
  assert.throws(() => keygenCsr('Bad_Name', join(tmp('ewF-'), 'x')), /bad edge name/);
  assert.equal(existsSync(join(tmp('ewF-'), 'x', 'edge.key')), false);
});

test('requests: a bad name, a forged signature, another curve or junk are refused with the reason', () => {
  const { privateKey, publicKey } = newKey();
  assert.equal(readCsr(makeCsr('ok-name', privateKey)).name, 'ok-name');
  // a hand-made request whose CN breaks the label rules (makeCsr refuses to write one)
  const raw = (cn: string, key = privateKey) => {
    const info = seq(
      der(0x02, Buffer.from([0])),
      cnName(cn),
      publicKey.export({ type: 'spki', format: 'der' }),
      der(0xa0, Buffer.alloc(0)),
    );
    return {
      info,
      text: pem(
        'CERTIFICATE REQUEST',
        seq(info, ECDSA_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', info, key)]))),
      ),
    };
  };
  assert.throws(
    () => readCsr(raw('evil.example').text),
    (e: Error) =>
      e instanceof PkiProblem && /bad edge name in the request: "evil.example" may only hold/.test(e.message),
  );
  assert.throws(() => readCsr(raw('UPPER').text), /upper-case/);
  assert.throws(() => readCsr(raw('ok-name', newKey().privateKey).text), /signature does not verify/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const info384 = seq(
    der(0x02, Buffer.from([0])),
    cnName('ok-name'),
    p384.publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa0, Buffer.alloc(0)),
  );
  assert.throws(
    () =>
      readCsr(
        pem(
          'CERTIFICATE REQUEST',
          seq(
            info384,
            ECDSA_SHA256,
            der(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', info384, p384.privateKey)])),
          ),
        ),
      ),
    /the fleet uses P-256/,
  );
  assert.throws(() => readCsr('hello'), /no "-----BEGIN/);
  assert.throws(() => readCsr(pem('CERTIFICATE REQUEST', Buffer.from('3003020100', 'hex'))), PkiProblem);
  assert.throws(() => readCsr(pem('CERTIFICATE REQUEST', Buffer.from('30ff', 'hex'))), PkiProblem);
  const dir = join(tmp('ewF-'), 'ca');
  caInit(dir);
  assert.throws(() => caSign(dir, raw('a.b').text), /bad edge name/);
});

test('member check: foreign CA, not yet valid, expired, bad name', () => {
  const a = newKey();
  const b = newKey();
  const caA = new X509Certificate(
    issue({
      subject: 'ca-a',
      publicKey: a.publicKey,
      issuer: { name: 'ca-a', key: a.privateKey },
      kind: 'ca',
    }),
  );
  const caB = new X509Certificate(
    issue({
      subject: 'ca-a',
      publicKey: b.publicKey,
      issuer: { name: 'ca-a', key: b.privateKey },
      kind: 'ca',
    }),
  ); // same name, other key
  const k = newKey();
  const mk = (o: Partial<Parameters<typeof issue>[0]>) =>
    new X509Certificate(
      issue({
        subject: 'e1',
        publicKey: k.publicKey,
        issuer: { name: 'ca-a', key: a.privateKey },
        kind: 'edge',
        ...o,
      }),
    );
  assert.ok(checkMember(mk({}), caA, 'edge').ok);
  const foreign = checkMember(mk({}), caB, 'edge');
  assert.ok(!foreign.ok && foreign.reason === 'foreign-ca', JSON.stringify(foreign));
  const future = checkMember(mk({ notBefore: new Date(Date.now() + 86400_000) }), caA, 'edge');
  assert.ok(!future.ok && future.reason === 'not-yet-valid' && /not valid before/.test(future.message));
  const old = checkMember(
    mk({ notBefore: new Date(Date.now() - 2 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }),
    caA,
    'edge',
  );
  assert.ok(!old.ok && old.reason === 'expired' && /expired at/.test(old.message));
  const badName = checkMember(mk({ subject: 'Not A Label' }), caA, 'edge');
  assert.ok(!badName.ok && badName.reason === 'bad-name');
});

test('revocation list: names and serials, comments; any bad line rejects the whole list with its line number', () => {
  const l = parseRevocationList('# revoked\nbranch-7\n\nserial:0A:1b:ff  # stolen box\n');
  assert.equal(l.entries, 2);
  assert.ok(isRevoked(l, { name: 'branch-7', serial: 'x', notAfter: 0 }));
  assert.ok(isRevoked(l, { name: 'other', serial: 'a1bff', notAfter: 0 }));
  assert.ok(!isRevoked(l, { name: 'other', serial: 'a1bfe', notAfter: 0 }));
  assert.throws(() => parseRevocationList('ok\nnot a name\n'), /line 2: neither an edge name nor serial:HEX/);
  assert.throws(() => parseRevocationList('serial:zz'), /line 1/);
});

test('config: fleet auth files and forwards[].edge are checked with JSON pointers (check-config = run)', () => {
  const dir = join(tmp('ewF-'), 'ca');
  caInit(dir);
  const edgeDir = join(tmp('ewF-'), 'e');
  enroll(dir, 'branch-1', edgeDir);
  const state = tmp('ewF-state-');
  const problems = (doc: Record<string, unknown>) => {
    try {
      resolveDocument({ stateDir: state, memory: { limit: '128MiB' }, ...doc }, '/x.json');
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.problems.map((p) => `${p.pointer} ${p.message}`);
    }
  };
  const core = (auth: object, extra: object = {}) => ({
    role: 'core',
    tunnel: { listen: '127.0.0.1:0', auth: { keyDir: dir, ca: join(dir, 'ca.crt'), ...auth } },
    ...extra,
  });
  assert.deepEqual(problems(core({ revoked: join(dir, 'revoked.txt') })), []);
  assert.deepEqual(
    problems({
      role: 'edge',
      tunnel: { connect: '127.0.0.1:1', auth: { keyDir: edgeDir, ca: join(edgeDir, 'ca.crt') } },
    }),
    [],
  );
  writeFileSync(join(dir, 'bad-list.txt'), 'branch-1\nno such thing!\n');
  assert.match(
    problems(core({ revoked: join(dir, 'bad-list.txt') })).join('\n'),
    /^\/tunnel\/auth\/revoked .*bad-list.txt is malformed, line 2/m,
  );
  assert.match(
    problems(core({ revoked: join(dir, 'missing.txt') })).join('\n'),
    /^\/tunnel\/auth\/revoked cannot read the revocation list/m,
  );
  assert.match(
    problems(core({ ca: join(edgeDir, 'edge.crt') })).join('\n'),
    /^\/tunnel\/auth\/ca .* is not a CA certificate/m,
  );
  // the core's own certificate from another fleet
  const other = join(tmp('ewF-'), 'ca2');
  caInit(other);
  assert.match(
    problems(core({ ca: join(other, 'ca.crt') })).join('\n'),
    /^\/tunnel\/auth\/keyDir .*not signed by the fleet CA/m,
  );
  // an edge key dir used as a core's: edge.crt is not a core certificate
  assert.match(
    problems({
      role: 'core',
      tunnel: { listen: '127.0.0.1:0', auth: { cert: join(edgeDir, 'edge.crt'), ca: join(dir, 'ca.crt') } },
    }).join('\n'),
    /^\/tunnel\/auth\/cert .*not a fleet core certificate/m,
  );
  assert.match(
    problems({
      role: 'edge',
      tunnel: {
        connect: '127.0.0.1:1',
        auth: { keyDir: edgeDir, ca: join(edgeDir, 'ca.crt'), revoked: join(dir, 'revoked.txt') },
      },
    }).join('\n'),
    /^\/tunnel\/auth\/revoked only a core/m,
  );
  const fwd = (edge: unknown, direction = 'core-to-edge') => [
    { listen: '127.0.0.1:1', target: '127.0.0.1:2', direction, edge },
  ];
  assert.deepEqual(problems(core({}, { forwards: fwd('branch-1') })), []);
  assert.match(
    problems(core({}, { forwards: fwd(null) })).join('\n'),
    /^\/forwards\/0\/edge a fleet core serves many edges/m,
  );
  assert.match(problems(core({}, { forwards: fwd('Bad.Name') })).join('\n'), /^\/forwards\/0\/edge /m);
  assert.match(
    problems({
      role: 'core',
      tunnel: { listen: '127.0.0.1:0', auth: { keyDir: dir, ca: null } },
      forwards: fwd('branch-1'),
    }).join('\n'),
    /^\/forwards\/0\/edge only a fleet core/m,
  );
});

test('key hints: keygen, ca init, keygen --csr and enroll print the same chgrp/chmod line for the key the service reads', async () => {
  const { caInitCommand, keygenCsrCommand, enrollCommand } = await import('../src/cli/fleet.ts');
  const { keygen, serviceKeyHint } = await import('../src/cli/keygen.ts');
  const dir = tmp();
  const hint = (out: string) => out.split('\n').filter((l) => l.includes('chgrp'));
  const ca = caInitCommand(join(dir, 'fleet'), undefined, undefined);
  assert.equal(ca.code, 0, ca.err);
  assert.deepEqual(hint(ca.out), [serviceKeyHint([join(dir, 'fleet', 'core.key')])], ca.out);
  assert.doesNotMatch(ca.out, /chgrp[^\n]*ca\.key/, 'ca.key stays 0600 root');
  const csr = keygenCsrCommand('branch-17', join(dir, 'keys'));
  assert.equal(csr.code, 0, csr.err);
  assert.deepEqual(hint(csr.out), [serviceKeyHint([join(dir, 'keys', 'edge.key')])], csr.out);
  const en = enrollCommand(join(dir, 'fleet'), 'branch-18', undefined, undefined);
  assert.equal(en.code, 0, en.err);
  assert.deepEqual(hint(en.out), [`there, ${serviceKeyHint(['edge.key'])}`], en.out);
  const kg = await keygen(join(dir, 'pair'));
  assert.equal(kg.code, 0, kg.err);
  assert.equal(hint(kg.out).length, 1, kg.out);
  assert.match(hint(kg.out)[0], /chgrp edgewan \S+\.key \S+\.key && chmod 0640 /, kg.out);
  assert.equal(
    serviceKeyHint(['/k']),
    'the service reads keys as 0640 root:edgewan (group 10001 in the container): chgrp edgewan /k && chmod 0640 /k',
  );
  for (const o of [ca.out, csr.out, en.out, kg.out])
    assert.doesNotMatch(o, /keys stay 0640|edge\.key is 0600/);
});
