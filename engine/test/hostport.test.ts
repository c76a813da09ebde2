// The one host:port parser (engine/src/net/hostport.ts) on the forms every listener and
// dialler writes, and on what it must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinHostPort, splitHostPort } from '../src/net/hostport.ts';

test('host:port forms, with and without a default port', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:53'), { host: '127.0.0.1', port: 53 });
  assert.deepEqual(splitHostPort('[::1]:9618'), { host: '::1', port: 9618 });
  assert.deepEqual(splitHostPort('[fe80::1%eth0]:80'), { host: 'fe80::1%eth0', port: 80 });
  assert.deepEqual(splitHostPort('core.example:0'), { host: 'core.example', port: 0 });
  assert.deepEqual(splitHostPort('dns.example', 53), { host: 'dns.example', port: 53 });
  assert.deepEqual(splitHostPort('[2001:db8::1]', 53), { host: '2001:db8::1', port: 53 });
  assert.deepEqual(splitHostPort('2001:db8::1', 53), { host: '2001:db8::1', port: 53 });
  assert.deepEqual(splitHostPort('1.2.3.4:65535'), { host: '1.2.3.4', port: 65535 });
});

test('refused: no port where one is needed, ports past 65535, bare IPv6 with a port, junk', () => {
  for (const s of [
    'dns.example',
    '::1',
    '1.2.3.4:65536',
    '1.2.3.4:123456',
    'a:b',
    '[::1]:x',
    ':53',
    '[::1',
    'a b:1:2',
    '',
  ])
    assert.equal(splitHostPort(s), null, s);
  for (const s of ['1.2.3.4:70000', 'a:b:c:d:e:f:g:h:i:j:k:zz', '[::1]:99999', ''])
    assert.equal(splitHostPort(s, 53), null, `${s} with a default port`);
});

test('joinHostPort brackets IPv6 and round-trips', () => {
  for (const [h, p] of [
    ['10.0.0.1', 1],
    ['::1', 9618],
    ['host.example', 65535],
  ] as const) {
    const s = joinHostPort(h, p);
    assert.deepEqual(splitHostPort(s), { host: h, port: p }, s);
  }
  assert.equal(joinHostPort('::1', 80), '[::1]:80');
});
