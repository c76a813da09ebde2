// Maps the package.json semver once into every target's version syntax (docs/contract.md,
// "Versions"): 1.2.0 → deb 1.2.0-1, ipk/apk 1.2.0-r1, OCI 1.2.0;
// 1.2.0-rc.1 → deb 1.2.0~rc.1-1, ipk 1.2.0~rc1-r1, apk 1.2.0_rc1-r1, OCI 1.2.0-rc.1;
// rpm Version-Release as deb: 1.2.0-1, 1.2.0~rc.1-1 (rpm sorts "~" before the release too).

export interface TargetVersions {
  semver: string;
  deb: string;
  ipk: string;
  apk: string;
  oci: string;
  /** rpm Version-Release */
  rpm: string;
}

export class VersionError extends Error {
  readonly code = 'EDGEWAN_ERR_BUILD_VERSION';
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
// apk-tools accepts suffixes _alpha _beta _pre _rc (each optionally followed by digits).
const APK_SUFFIXES = new Set(['alpha', 'beta', 'pre', 'rc']);

export function mapVersion(semver: string, revision = 1): TargetVersions {
  const m = SEMVER.exec(semver);
  if (!m) {
    throw new VersionError(
      `version "${semver}" is not semver (MAJOR.MINOR.PATCH[-PRERELEASE]): fix "version" in package.json or the build manifest`,
    );
  }
  const base = `${m[1]}.${m[2]}.${m[3]}`;
  const pre = m[4];
  if (!pre) {
    return {
      semver,
      deb: `${base}-${revision}`,
      ipk: `${base}-r${revision}`,
      apk: `${base}-r${revision}`,
      oci: base,
      rpm: `${base}-${revision}`,
    };
  }
  const pm = /^([A-Za-z]+)\.?(\d*)$/.exec(pre);
  if (!pm || !APK_SUFFIXES.has(pm[1].toLowerCase())) {
    throw new VersionError(
      `prerelease "${pre}" of version "${semver}" cannot be mapped to apk/ipk versions: use alpha, beta, pre or rc followed by an optional number (e.g. 1.2.0-rc.1)`,
    );
  }
  const tag = pm[1].toLowerCase();
  const num = pm[2];
  return {
    semver,
    deb: `${base}~${pre}-${revision}`,
    ipk: `${base}~${tag}${num}-r${revision}`,
    apk: `${base}_${tag}${num}-r${revision}`,
    oci: semver.replace(/\+.*$/, ''),
    rpm: `${base}~${pre}-${revision}`,
  };
}
