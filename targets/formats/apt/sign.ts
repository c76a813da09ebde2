// OpenPGP signing for the apt repository with openpgp.js: InRelease (clearsigned Release)
// and Release.gpg (detached, armored). Deterministic (docs/contract.md "Keys and signatures"):
// EdDSA signatures are deterministic by construction once openpgp.js's random salt
// notation is off and the signature date is fixed — SOURCE_DATE_EPOCH, or the key's
// creation time when the key is younger than that (a signature may not predate its key;
// dev keys are generated on each fresh machine, after the last commit).
import * as openpgp from 'openpgp';

export class SigningError extends Error {
  readonly code = 'EDGEWAN_ERR_APT_SIGNING';
}

export interface AptSigner {
  fingerprint: string;
  /** the public key, binary (for signed-by=/usr/share/keyrings/*.gpg) and armored */
  publicBinary: Buffer;
  publicArmored: string;
  clearsign(text: string): Promise<string>;
  detachSign(data: Buffer): Promise<string>;
}

const CONFIG = { nonDeterministicSignaturesViaNotation: false } as const;

export async function loadSigner(armoredPrivate: string | undefined, mtime: number): Promise<AptSigner> {
  if (!armoredPrivate) {
    throw new SigningError(
      "no OpenPGP private key for the apt repository: set EDGEWAN_OPENPGP_KEY or the manifest's openpgpPrivateKey (the build makes dev keys otherwise)",
    );
  }
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armoredPrivate });
  } catch (err) {
    throw new SigningError(`cannot read the OpenPGP private key: ${(err as Error).message}`, { cause: err });
  }
  if (!key.isDecrypted())
    throw new SigningError(
      'the OpenPGP private key is passphrase-protected: supply an unencrypted key for the build',
    );
  const created = Math.ceil(key.getCreationTime().getTime() / 1000);
  const date = new Date(Math.max(mtime, created) * 1000);
  const pub = key.toPublic();
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    publicBinary: Buffer.from(pub.write()),
    publicArmored: pub.armor(),
    async clearsign(text) {
      // Cleartext signatures canonicalise trailing whitespace; Release files have none.
      if (/[ \t]$/m.test(text))
        throw new SigningError(
          'refusing to clearsign text with trailing whitespace (apt would see different bytes)',
        );
      const message = await openpgp.createCleartextMessage({ text });
      return openpgp.sign({ message, signingKeys: key, date, config: CONFIG });
    },
    async detachSign(data) {
      const message = await openpgp.createMessage({ binary: data });
      return openpgp.sign({
        message,
        signingKeys: key,
        date,
        detached: true,
        format: 'armored',
        config: CONFIG,
      });
    },
  };
}

/** A v4 curve25519Legacy EdDSA key (bookworm's gpgv accepts it: docs/platform-notes.md §7), for tests. */
export async function generateTestKey(name: string, created: Date): Promise<string> {
  const k = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    format: 'armored',
    date: created,
    userIDs: [{ name: `${name} test key`, email: 'test@edgewan.invalid' }],
    config: { v6Keys: false },
  });
  return k.privateKey;
}
