// Reads a data directory's certs/ the way a restart would and asserts every file in it is complete: for crash tests.
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { describeCertificate, openPrivateKey } from "../../src/pki/index.ts";
import type { MasterKey } from "../../src/pki/index.ts";

/** A certificate directory `<slot>/<serial>/` whose two files are both complete. */
export interface StoredCertificate {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** One slot of the store, as found on disk. */
export interface StoredSlot {
  /** Relative to certs/, e.g. `server/viewer-site`. */
  slot: string;
  active: StoredCertificate;
  /** What `next` names, if the file exists (it may name the active certificate after a crash). */
  next: StoredCertificate | null;
  /** Serial directories named by neither pointer: the retired certificate, or one a crash left behind. */
  unnamedDirs: string[];
  /** Serial directories missing key.pem or chain.pem (created, then killed before the files were written). */
  incompleteDirs: string[];
  /** Temp files of interrupted atomic writes (`.key.pem.<random>.tmp`), relative to the slot. */
  tempFiles: string[];
}

const KEY_BEGIN = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n";
const KEY_END = "-----END ENCRYPTED PRIVATE KEY-----\n";
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?-----END CERTIFICATE-----\n/g;
const SERIAL = /^[0-9a-f]{1,40}$/;
const isTempFile = (name: string) => name.startsWith(".") && name.endsWith(".tmp");

/**
 * Every slot under `<dataDir>/certs/`, with what a restart would load from it. Fails (naming the
 * file) if a pointer is missing or half-written, names a directory without both files, or if any
 * key.pem or chain.pem anywhere is empty, truncated, unencrypted, readable by others, not issued
 * by `intermediatePem`, or holds a key that does not match its certificate.
 * @example
 * const slots = await readCertStore(dataDir, { intermediatePem: ca.intermediatePem, masterKey });
 */
export async function readCertStore(dataDir: string, trust: { intermediatePem: string; masterKey: MasterKey }): Promise<StoredSlot[]> {
  const root = join(dataDir, "certs");
  const slots: StoredSlot[] = [];
  for (const dir of await slotDirs(root)) slots.push(await readSlot(root, dir, trust));
  return slots.sort((a, b) => a.slot.localeCompare(b.slot));
}

/** Directories holding an `active` pointer or serial directories: certs/server/<name>, certs/origin-client/<d>/<o>. */
async function slotDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const isSlot = entries.some((e) => (e.isFile() && e.name === "active") || (e.isDirectory() && SERIAL.test(e.name)));
  if (isSlot) return [dir];
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => slotDirs(join(dir, e.name))));
  return nested.flat();
}

async function readSlot(root: string, dir: string, trust: { intermediatePem: string; masterKey: MasterKey }): Promise<StoredSlot> {
  const slot = relative(root, dir);
  const entries = await readdir(dir, { withFileTypes: true });
  const serialDirs = entries.filter((e) => e.isDirectory() && SERIAL.test(e.name)).map((e) => e.name);
  const tempFiles = entries.filter((e) => e.isFile() && isTempFile(e.name)).map((e) => e.name);
  const complete = new Map<string, StoredCertificate>();
  const incompleteDirs: string[] = [];
  for (const serial of serialDirs) {
    const names = await readdir(join(dir, serial));
    tempFiles.push(...names.filter(isTempFile).map((name) => `${serial}/${name}`));
    // Each file is written atomically, so whichever of the two exists must be whole, even in a directory nothing names.
    const chain = names.includes("chain.pem") ? await readChain(join(dir, serial, "chain.pem"), serial, trust.intermediatePem) : undefined;
    const key = names.includes("key.pem") ? await readSealedKey(join(dir, serial, "key.pem"), trust.masterKey) : undefined;
    if (chain && key) {
      assert.ok(chain.leaf.checkPrivateKey(key), `${slot}/${serial}: key.pem does not belong to chain.pem`);
      complete.set(serial, chain.stored);
    } else {
      incompleteDirs.push(serial);
    }
  }
  const active = await readPointer(dir, "active");
  assert.ok(active !== undefined, `${slot}: no 'active' pointer`);
  const activeCertificate = complete.get(active);
  assert.ok(activeCertificate, `${slot}: 'active' names ${active}, which is not a directory holding both key.pem and chain.pem`);
  const next = await readPointer(dir, "next");
  const nextCertificate = next === undefined ? null : complete.get(next);
  assert.ok(nextCertificate !== undefined, `${slot}: 'next' names ${next}, which is not a directory holding both key.pem and chain.pem`);
  const unnamedDirs = serialDirs.filter((serial) => serial !== active && serial !== next);
  return { slot, active: activeCertificate, next: nextCertificate, unnamedDirs, incompleteDirs, tempFiles };
}

/** A pointer file's serial; the file must be exactly one serial and a newline (written whole or not at all). */
async function readPointer(dir: string, pointer: "active" | "next"): Promise<string | undefined> {
  const text = await readFile(join(dir, pointer), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  assert.match(text, /^[0-9a-f]{1,40}\n$/, `${join(dir, pointer)} is not one serial and a newline: ${JSON.stringify(text)}`);
  return text.trim();
}

async function readChain(path: string, serial: string, intermediatePem: string): Promise<{ leaf: X509Certificate; stored: StoredCertificate }> {
  const text = await readFile(path, "utf8");
  const blocks = text.match(CERT_BLOCK) ?? [];
  // Whole blocks and nothing else: a truncated file leaves a partial block that the pattern cannot match.
  assert.equal(blocks.join(""), text, `${path} is not a sequence of complete PEM certificates (${text.length} bytes)`);
  assert.equal(blocks.length, 2, `${path} should hold the leaf and the intermediate`);
  const [leaf, intermediate] = blocks.map((pem) => new X509Certificate(pem)) as [X509Certificate, X509Certificate];
  const issuer = new X509Certificate(intermediatePem);
  assert.ok(intermediate.fingerprint256 === issuer.fingerprint256, `${path}: the second certificate is not the CA's intermediate`);
  assert.ok(leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey), `${path}: the leaf is not signed by the CA's intermediate`);
  const { serialHex, notBefore, notAfter } = describeCertificate(blocks[0] as string);
  assert.equal(serialHex, serial, `${path}: the leaf's serial is not its directory's name`);
  return { leaf, stored: { serialHex, notBefore, notAfter } };
}

async function readSealedKey(path: string, masterKey: MasterKey) {
  const text = await readFile(path, "utf8");
  assert.ok(text.startsWith(KEY_BEGIN) && text.endsWith(KEY_END), `${path} is not one complete encrypted PEM block (${text.length} bytes)`);
  assert.equal(text.indexOf(KEY_BEGIN, 1), -1, `${path} holds more than one PEM block`);
  if (process.platform !== "win32") assert.equal((await stat(path)).mode & 0o777, 0o600, `${path} should have mode 0600`);
  const opened = openPrivateKey(text, masterKey, path);
  assert.equal(opened.wasPlaintext, false, `${path} was not encrypted`);
  return createPrivateKey(opened.keyPem);
}
