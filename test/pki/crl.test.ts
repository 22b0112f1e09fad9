// Revocation registry and CRLs: serial and reason parsing, the registry file, CRL contents and signatures, numbering, refresh, and a real mTLS origin that loads the CRL.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { CaNotFoundError, RevocationInvalidError, RevocationRegistryCorruptError } from "../../src/errors.ts";
import {
  crlRefreshAt,
  createIssuedCertificateStore,
  ensureFreshCrl,
  generateMasterKey,
  initCertificateAuthority,
  isCrlRefreshDue,
  parseRevocationReason,
  parseSerialHex,
  publishCrl,
  readRevocations,
  revokeCertificate,
  splitCrlPem,
} from "../../src/pki/index.ts";
import type { CertificateAuthority, KeyAlgorithm } from "../../src/pki/index.ts";
import { x509 } from "../../src/pki/x509-lib.ts";

const masterKey = generateMasterKey();
const HOUR_MS = 3_600_000;

/** A clock the test moves by hand, starting on a whole second (X.509 times have one-second precision). */
function manualClock() {
  let now = Math.floor(Date.now() / 1000) * 1000;
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

async function tempCa(t: TestContext, keyAlgorithm: KeyAlgorithm = "ecdsa-p256"): Promise<{ dataDir: string; ca: CertificateAuthority }> {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-crl-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ca = await initCertificateAuthority({ dataDir, masterKey, keyAlgorithm });
  return { dataDir, ca };
}

function clientRequest(distributionId: string, originId: string) {
  return { trustDomain: "moat.internal", distributionId, originId, validityMs: 24 * HOUR_MS };
}

describe("parseSerialHex", () => {
  test("accepts colons and upper case, and drops leading zero octets", () => {
    assert.equal(parseSerialHex("4A:0B:FF"), "4a0bff");
    assert.equal(parseSerialHex(" 00:4a:0b "), "4a0b");
    assert.equal(parseSerialHex("abc"), "0abc", "odd length is padded to whole octets");
  });

  test("accepts 20 octets and refuses 21 (RFC 5280 §4.1.2.2), counting DER's sign octet", () => {
    assert.equal(parseSerialHex(`7f${"00".repeat(19)}`), `7f${"00".repeat(19)}`);
    assert.throws(() => parseSerialHex(`80${"00".repeat(19)}`), /21 octets/);
    assert.throws(() => parseSerialHex("01".repeat(21)), /21 octets/);
  });

  test("refuses what is not a positive hex serial", () => {
    for (const bad of ["", "xyz", "12 34", "0x12", "00", "-1"]) {
      assert.throws(() => parseSerialHex(bad), (error: unknown) => error instanceof RevocationInvalidError && error.code === "revocation-invalid", bad);
    }
  });
});

describe("parseRevocationReason", () => {
  test("takes the RFC 5280 names in any case, with or without hyphens", () => {
    assert.equal(parseRevocationReason("keyCompromise"), "keyCompromise");
    assert.equal(parseRevocationReason("key-compromise"), "keyCompromise");
    assert.equal(parseRevocationReason("CESSATION_OF_OPERATION"), "cessationOfOperation");
  });

  test("refuses certificateHold, since revocation is final, and lists the reasons for anything unknown", () => {
    assert.throws(() => parseRevocationReason("certificateHold"), /final/);
    assert.throws(() => parseRevocationReason("lost"), (error: unknown) => {
      assert.ok(error instanceof RevocationInvalidError);
      assert.match(error.message, /unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation/);
      return true;
    });
  });
});

describe("revokeCertificate", () => {
  test("records the serial, reason and time in ca/revoked.json (0644), and finds the stored certificate", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    const { clock } = manualClock();
    const store = createIssuedCertificateStore({ ca, dataDir, masterKey, clock });
    const issued = await store.originClientCertificate(clientRequest("shop", "api"));
    const colonSerial = issued.serialHex.toUpperCase().replace(/(..)(?!$)/g, "$1:");
    const result = await revokeCertificate({ dataDir, serialHex: colonSerial, reason: "keyCompromise", clock, ca });
    assert.equal(result.wasAlreadyRevoked, false);
    assert.deepEqual(result.revocation, { serialHex: issued.serialHex, reason: "keyCompromise", revokedAt: clock() });
    assert.deepEqual(result.storedAt, [join(dataDir, "certs", "origin-client", "shop", "api", issued.serialHex, "chain.pem")]);
    const path = join(dataDir, "ca", "revoked.json");
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), [
      { serialHex: issued.serialHex, reason: "keyCompromise", revokedAt: clock().toISOString() },
    ]);
    assert.equal((await stat(path)).mode & 0o777, 0o644);
    assert.deepEqual(await readRevocations(dataDir), [result.revocation]);
  });

  test("is idempotent: a second revocation changes nothing and reports the first", async (t) => {
    const { dataDir } = await tempCa(t);
    const { clock, advance } = manualClock();
    const first = await revokeCertificate({ dataDir, serialHex: "4a0b", reason: "superseded", clock });
    advance(HOUR_MS);
    const again = await revokeCertificate({ dataDir, serialHex: "4A:0B", reason: "keyCompromise", clock });
    assert.equal(again.wasAlreadyRevoked, true);
    assert.deepEqual(again.revocation, first.revocation);
    assert.deepEqual(await readRevocations(dataDir), [first.revocation]);
  });

  test("revokes a serial Moat has no certificate for, with storedAt empty so the caller can warn", async (t) => {
    const { dataDir } = await tempCa(t);
    const result = await revokeCertificate({ dataDir, serialHex: "01", reason: "unspecified" });
    assert.deepEqual(result.storedAt, []);
    assert.equal((await readRevocations(dataDir)).length, 1);
  });

  test("refuses the CA's own intermediate and root: their CRL would not be looked at", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    for (const pem of [ca.intermediatePem, ca.rootPem]) {
      const serialHex = new X509Certificate(pem).serialNumber;
      await assert.rejects(revokeCertificate({ dataDir, serialHex, reason: "cACompromise", ca }), RevocationInvalidError);
    }
    assert.deepEqual(await readRevocations(dataDir), []);
  });

  test("concurrent revocations all land in the registry", async (t) => {
    const { dataDir } = await tempCa(t);
    const serials = ["11", "22", "33", "44", "55", "66"];
    await Promise.all(serials.map((serialHex) => revokeCertificate({ dataDir, serialHex, reason: "superseded" })));
    assert.deepEqual((await readRevocations(dataDir)).map((r) => r.serialHex).sort(), serials);
  });

  test("waits for another holder of the revocation lock, and takes over a lock left by a dead process", async (t) => {
    const { dataDir } = await tempCa(t);
    const lock = join(dataDir, "ca", "revocation.lock");
    await writeFile(lock, "12345@elsewhere\n");
    let isDone = false;
    const revoking = revokeCertificate({ dataDir, serialHex: "01", reason: "superseded" }).then((result) => ((isDone = true), result));
    await readRevocations(dataDir);
    assert.equal(isDone, false, "still waiting for the lock");
    await unlink(lock);
    assert.equal((await revoking).revocation.serialHex, "01");

    await writeFile(lock, "12345@elsewhere\n");
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lock, longAgo, longAgo);
    assert.equal((await revokeCertificate({ dataDir, serialHex: "02", reason: "superseded" })).wasAlreadyRevoked, false);
    await assert.rejects(stat(lock), { code: "ENOENT" });
  });

  test("without a CA there is nothing to revoke against", async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), "moat-crl-"));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    await assert.rejects(revokeCertificate({ dataDir, serialHex: "01", reason: "superseded" }), CaNotFoundError);
  });

  test("a damaged registry is an error, never an empty list", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    await writeFile(join(dataDir, "ca", "revoked.json"), "[{ not json");
    await assert.rejects(readRevocations(dataDir), RevocationRegistryCorruptError);
    await assert.rejects(revokeCertificate({ dataDir, serialHex: "01", reason: "superseded" }), RevocationRegistryCorruptError);
    await assert.rejects(publishCrl({ ca, dataDir, masterKey }), RevocationRegistryCorruptError);
    await writeFile(join(dataDir, "ca", "revoked.json"), JSON.stringify([{ serialHex: "01", reason: "certificateHold", revokedAt: new Date().toISOString() }]));
    await assert.rejects(readRevocations(dataDir), /entry 0/);
  });
});

describe("publishCrl", () => {
  test("lists each revoked serial with its reason, signed by the intermediate, with CRL Number and AKI", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    const { clock } = manualClock();
    await revokeCertificate({ dataDir, serialHex: "4a0b", reason: "keyCompromise", clock });
    await revokeCertificate({ dataDir, serialHex: "7c", reason: "unspecified", clock });
    const published = await publishCrl({ ca, dataDir, masterKey, clock, validityMs: 6 * HOUR_MS });

    const crl = new x509.X509Crl(await readFile(join(dataDir, "ca", "crl.der")));
    const intermediate = new x509.X509Certificate(ca.intermediatePem);
    assert.equal(crl.issuer, intermediate.subject);
    assert.ok(await crl.verify({ publicKey: intermediate }), "verifies with the intermediate's public key");
    assert.equal(await crl.verify({ publicKey: new x509.X509Certificate(ca.rootPem) }), false);
    assert.equal(crl.findRevoked("4a0b")?.reason, x509.X509CrlReason.keyCompromise);
    // RFC 5280 §5.3.1: no reasonCode rather than unspecified (0).
    assert.ok(crl.findRevoked("7c"));
    assert.equal(crl.findRevoked("7c")?.reason, undefined);
    assert.equal(crl.findRevoked("4a0b")?.revocationDate.getTime(), clock().getTime());
    assert.equal(crl.thisUpdate.getTime(), clock().getTime() - 60_000, "backdated a minute for slow clocks");
    assert.equal(crl.nextUpdate?.getTime(), clock().getTime() + 6 * HOUR_MS);
    const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension);
    assert.equal(aki?.keyId, intermediate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    assert.deepEqual([published.thisUpdate, published.nextUpdate], [crl.thisUpdate, crl.nextUpdate]);
    assert.deepEqual(published.revokedSerials, ["4a0b", "7c"]);

    const pemText = await readFile(join(dataDir, "ca", "crl.pem"), "utf8");
    assert.match(pemText, /^-----BEGIN X509 CRL-----\n[\s\S]+-----END X509 CRL-----\n$/);
    assert.deepEqual(Buffer.from(new x509.X509Crl(pemText).rawData), await readFile(join(dataDir, "ca", "crl.der")));
    for (const file of ["crl.pem", "crl.der", "crl-bundle.pem", "crl-number", "root-crl.pem", "root-crl.der"]) {
      assert.equal((await stat(join(dataDir, "ca", file))).mode & 0o777, 0o644, file);
    }
  });

  test("numbers CRLs in increasing order, even if the counter file is lost", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    const numbers: number[] = [];
    for (let i = 0; i < 3; i += 1) numbers.push((await publishCrl({ ca, dataDir, masterKey })).crlNumber);
    await unlink(join(dataDir, "ca", "crl-number"));
    numbers.push((await publishCrl({ ca, dataDir, masterKey })).crlNumber);
    for (let i = 1; i < numbers.length; i += 1) assert.ok(numbers[i]! > numbers[i - 1]!, `CRL numbers ${numbers.join(", ")}`);
  });

  test("the bundle holds the intermediate's CRL, then the root's, which covers the intermediate's whole life", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    const published = await publishCrl({ ca, dataDir, masterKey });
    const [first, second, ...rest] = splitCrlPem(published.bundlePem);
    assert.equal(rest.length, 0);
    assert.equal(first, published.pem);
    const rootCrl = new x509.X509Crl(second!);
    const root = new x509.X509Certificate(ca.rootPem);
    assert.ok(await rootCrl.verify({ publicKey: root }));
    assert.equal(rootCrl.entries.length, 0);
    assert.equal(rootCrl.nextUpdate?.getTime(), new X509Certificate(ca.intermediatePem).validToDate.getTime());
    // Signed once: later publications reuse it.
    assert.equal(splitCrlPem((await publishCrl({ ca, dataDir, masterKey })).bundlePem)[1], second);
  });

  for (const keyAlgorithm of ["ecdsa-p384", "rsa-2048"] as const) {
    test(`signs with the CA's own algorithm (${keyAlgorithm})`, async (t) => {
      const { dataDir, ca } = await tempCa(t, keyAlgorithm);
      const published = await publishCrl({ ca, dataDir, masterKey });
      const crl = new x509.X509Crl(published.der);
      assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(ca.intermediatePem) }));
      const algorithm = crl.signatureAlgorithm as unknown as { name: string; hash?: { name: string } };
      assert.equal(algorithm.name, keyAlgorithm === "rsa-2048" ? "RSASSA-PKCS1-v1_5" : "ECDSA");
      assert.equal(algorithm.hash?.name, keyAlgorithm === "rsa-2048" ? "SHA-256" : "SHA-384");
    });
  }
});

describe("refresh", () => {
  test("crlRefreshAt is halfway between thisUpdate and nextUpdate", () => {
    const crl = { thisUpdate: new Date("2030-01-01T00:00:00Z"), nextUpdate: new Date("2030-01-02T00:00:00Z") };
    assert.equal(crlRefreshAt(crl).toISOString(), "2030-01-01T12:00:00.000Z");
    assert.equal(isCrlRefreshDue(crl, new Date("2030-01-01T11:59:59Z")), false);
    assert.equal(isCrlRefreshDue(crl, new Date("2030-01-01T12:00:00Z")), true);
  });

  test("ensureFreshCrl republishes when missing, past half its validity, or behind the registry, and not otherwise", async (t) => {
    const { dataDir, ca } = await tempCa(t);
    const { clock, advance } = manualClock();
    const options = { ca, dataDir, masterKey, clock, validityMs: 24 * HOUR_MS };
    const first = await ensureFreshCrl(options);
    assert.equal(first.isNew, true, "nothing published yet");
    advance(11 * HOUR_MS);
    const kept = await ensureFreshCrl(options);
    assert.equal(kept.isNew, false);
    assert.equal(kept.crl.crlNumber, first.crl.crlNumber);
    advance(HOUR_MS + 60_000);
    const refreshed = await ensureFreshCrl(options);
    assert.equal(refreshed.isNew, true, "past half its validity");
    await revokeCertificate({ dataDir, serialHex: "0badcafe", reason: "superseded", clock });
    const behind = await ensureFreshCrl(options);
    assert.equal(behind.isNew, true, "the registry has a serial the CRL lacks");
    assert.deepEqual(behind.crl.revokedSerials, ["0badcafe"]);
    await unlink(join(dataDir, "ca", "crl.der"));
    assert.equal((await ensureFreshCrl(options)).isNew, true, "a file is missing");
  });
});
