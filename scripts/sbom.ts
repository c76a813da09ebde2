// SPDX 2.3 JSON documents (https://spdx.github.io/spdx-spec/v2.3/) for the bundle and each
// executable: the npm packages esbuild actually put into the bundle (from its metafile; name,
// version, license from each package's package.json) and, for executables, the Node runtime
// (version, source npm package, sha256 of its binary). Timestamps come from
// SOURCE_DATE_EPOCH and the namespace from content hashes, so documents are reproducible.
import type { RuntimePin } from './runtimes.ts';
import type { BundledPackage } from './packages.ts';

export interface SbomInput {
  /** file name of the described artifact, e.g. edgewan-linux-x64 */
  artifact: string;
  artifactSha256: string;
  product: { name: string; version: string; license: string; homepage: string; vendor: string };
  packages: readonly Omit<BundledPackage, 'licenseFiles'>[];
  runtime?: RuntimePin;
  /** SOURCE_DATE_EPOCH seconds */
  mtime: number;
}

function spdxId(s: string): string {
  return `SPDXRef-${s.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
}

function purlNpm(name: string, version: string): string {
  return `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${version}`;
}

export function makeSbom(i: SbomInput): Record<string, unknown> {
  const root = spdxId(i.artifact);
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: root,
      name: i.artifact,
      versionInfo: i.product.version,
      supplier: `Organization: ${i.product.vendor}`,
      downloadLocation: 'NOASSERTION',
      homepage: i.product.homepage,
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: i.product.license,
      copyrightText: 'NOASSERTION',
      checksums: [{ algorithm: 'SHA256', checksumValue: i.artifactSha256 }],
      primaryPackagePurpose: 'APPLICATION',
    },
  ];
  const rels: Record<string, unknown>[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: root },
  ];
  for (const p of i.packages) {
    const id = spdxId(`npm-${p.name}-${p.version}`);
    packages.push({
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: p.license,
      copyrightText: 'NOASSERTION',
      ...(p.homepage ? { homepage: p.homepage } : {}),
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: purlNpm(p.name, p.version),
        },
      ],
      primaryPackagePurpose: 'LIBRARY',
    });
    rels.push({ spdxElementId: root, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  }
  if (i.runtime) {
    const r = i.runtime;
    const id = spdxId(`node-runtime-${r.version}`);
    packages.push({
      SPDXID: id,
      name: 'node',
      versionInfo: r.version,
      supplier: 'Organization: OpenJS Foundation',
      downloadLocation: `https://registry.npmjs.org/${r.package}/-/${r.package}-${r.version}.tgz`,
      homepage: 'https://nodejs.org/',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'MIT',
      copyrightText: 'NOASSERTION',
      checksums: [{ algorithm: 'SHA256', checksumValue: r.sha256 }],
      comment: `official Node.js binary (package/bin/node of npm ${r.package}@${r.version}; sha256 before strip)${r.eol ? '; this Node line is end-of-life' : ''}`,
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: purlNpm(r.package, r.version),
        },
      ],
      primaryPackagePurpose: 'APPLICATION',
    });
    rels.push({ spdxElementId: root, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${i.artifact}-${i.product.version}`,
    documentNamespace: `https://spdx.edgewan.invalid/${encodeURIComponent(i.artifact)}/${i.product.version}/${i.artifactSha256}`,
    creationInfo: {
      created: new Date(i.mtime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      creators: ['Tool: edgewan-build'],
    },
    packages,
    relationships: rels,
  };
}

export function sbomFileName(artifact: string): string {
  return `${artifact}.spdx.json`;
}
