import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapVersion, VersionError } from '../../targets/version.ts';
import { parseArch, ociPlatformString, archForOpenwrt, UnknownArchError } from '../../targets/arch.ts';

test('release versions map per docs/contract.md "Versions"', () => {
  assert.deepEqual(mapVersion('1.2.0'), {
    semver: '1.2.0',
    deb: '1.2.0-1',
    ipk: '1.2.0-r1',
    apk: '1.2.0-r1',
    oci: '1.2.0',
    rpm: '1.2.0-1',
  });
});

test('prerelease versions map per docs/contract.md "Versions"', () => {
  const v = mapVersion('1.2.0-rc.1');
  assert.equal(v.deb, '1.2.0~rc.1-1');
  assert.equal(v.ipk, '1.2.0~rc1-r1');
  assert.equal(v.apk, '1.2.0_rc1-r1');
  assert.equal(v.oci, '1.2.0-rc.1');
  assert.equal(v.rpm, '1.2.0~rc.1-1');
});

test('unmappable versions are refused with the reason', () => {
  assert.throws(() => mapVersion('1.2'), VersionError);
  assert.throws(() => mapVersion('1.2.0-nightly.3'), /alpha, beta, pre or rc/);
});

test('arch aliases and platform names', () => {
  assert.equal(parseArch('amd64'), 'x64');
  assert.equal(parseArch('aarch64'), 'arm64');
  assert.equal(parseArch('armhf'), 'armv7');
  assert.throws(() => parseArch('mips'), UnknownArchError);
  assert.equal(ociPlatformString('armv7'), 'linux/arm/v7');
  assert.equal(archForOpenwrt('aarch64_cortex-a53'), 'arm64');
  assert.equal(archForOpenwrt('arm_cortex-a9_vfpv3-d16'), undefined);
});
