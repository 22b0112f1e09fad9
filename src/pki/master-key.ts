// The master key that private keys at rest are encrypted under: loaded from its source and checked, created as a file, never shown.
import { createSecretKey, hkdfSync, KeyObject, randomBytes } from "node:crypto";
import { mkdir, readFile, realpath, stat, unlink } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { MasterKeySource } from "../config/index.ts";
import { KeyFileInsecureError, MasterKeyInvalidError, MasterKeyMissingError } from "../errors.ts";
import { fsyncDir, KEY_FILE_MODE, PRIVATE_DIR_MODE, writeNewFile } from "./key-files.ts";

export const MASTER_KEY_BYTES = 32;
// A key file holds one line of base64; anything much bigger is not a master key, so it is not read whole.
const MAX_KEY_FILE_BYTES = 1024;

/**
 * A loaded master key. It carries no key material itself (that lives in a
 * module-private WeakMap), so logging, inspecting or serialising it shows only
 * where it came from and its id.
 */
export interface MasterKey {
  /** Where it came from, for messages and logs: `MOAT_MASTER_KEY`, `/etc/moat/master.key (MOAT_MASTER_KEY_FILE)`. */
  readonly source: string;
  /** 16 hex digits derived one-way from the key (HKDF), to tell keys apart in logs without revealing them. */
  readonly id: string;
}

const secrets = new WeakMap<MasterKey, KeyObject>();

// HKDF (RFC 5869) gives each use of the master key its own subkey, so a later use (e.g. sealing
// secrets in the control store) never shares a key with this one. Changing an info string
// changes every derived value: these are part of the on-disk format.
const KEY_AT_REST_INFO = "moat key at rest v1";
const KEY_ID_INFO = "moat master key id v1";

function derive(key: KeyObject, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), info, 32));
}

function fromBytes(bytes: Buffer, source: string): MasterKey {
  const key = createSecretKey(bytes);
  const masterKey: MasterKey = Object.freeze({ source, id: derive(key, KEY_ID_INFO).subarray(0, 8).toString("hex") });
  secrets.set(masterKey, key);
  return masterKey;
}

/**
 * The passphrase of every encrypted PKCS#8 key Moat writes: base64 of
 * HKDF-SHA256(master key, salt "", info "moat key at rest v1", 32 bytes). Text,
 * so that `openssl pkey -passin env:VAR` can be given it for disaster recovery.
 */
export function keyAtRestPassphrase(masterKey: MasterKey): string {
  const key = secrets.get(masterKey);
  if (!key) throw new Error("bug: a MasterKey that loadMasterKey or generateMasterKey did not make");
  return derive(key, KEY_AT_REST_INFO).toString("base64");
}

// Standard base64 (as `openssl rand -base64 32` writes it) or base64url, padded or not.
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

/** Decodes a key's text; the messages say what is wrong, never what the text was. */
function parseKeyText(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  if (trimmed === "") throw new MasterKeyInvalidError(source, "it is empty");
  if (!BASE64.test(trimmed)) throw new MasterKeyInvalidError(source, "it is not base64");
  const bytes = Buffer.from(trimmed, trimmed.includes("-") || trimmed.includes("_") ? "base64url" : "base64");
  if (bytes.length !== MASTER_KEY_BYTES) {
    throw new MasterKeyInvalidError(source, `it decodes to ${bytes.length} bytes, not ${MASTER_KEY_BYTES}`);
  }
  return fromBytes(bytes, source);
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (a file not created yet). */
async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : resolve(await realPathOf(parent), relative(parent, absolute));
  }
}

/** Refuses a key file inside the data directory: every copy of the data would carry the key that protects it. */
async function checkOutsideDataDir(file: string, dataDir: string, source: string): Promise<void> {
  const [realFile, realDataDir] = await Promise.all([realPathOf(file), realPathOf(dataDir)]);
  const rel = relative(realDataDir, realFile);
  if (rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))) {
    throw new MasterKeyInvalidError(source, `the file is inside the data directory ${dataDir}, so every copy of the data would carry the key that protects it`, {
      fix: `move it out of the data directory (e.g. \`mv ${file} /etc/moat/master.key\`) and point MOAT_MASTER_KEY_FILE or pki.masterKeyFile at the new path`,
    });
  }
}

async function readKeyFile(path: string, source: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === "ENOENT" || code === "ENOTDIR" ? "the file does not exist" : `cannot read the file (${code ?? "error"})`;
    throw new MasterKeyInvalidError(source, detail);
  }
  if (!info.isFile()) throw new MasterKeyInvalidError(source, "it is not a regular file");
  // As ssh refuses a private key that others can read: a master key others could read is no secret.
  if (process.platform !== "win32" && (info.mode & 0o077) !== 0) throw new KeyFileInsecureError(path, info.mode);
  if (info.size > MAX_KEY_FILE_BYTES) throw new MasterKeyInvalidError(source, `the file holds ${info.size} bytes; a master key file holds one line of base64`);
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new MasterKeyInvalidError(source, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function describeSource(source: MasterKeySource): string {
  return source.kind === "env" ? source.name : `${source.path} (${source.from})`;
}

/**
 * Loads and checks the master key. A key file must be a regular file with mode 0600 (or
 * stricter) outside `dataDir`, holding base64 of 32 bytes. Throws MasterKeyMissingError when
 * `source` is null, MasterKeyInvalidError or KeyFileInsecureError otherwise; no message ever
 * contains the key.
 */
export async function loadMasterKey(source: MasterKeySource | null, options: { dataDir: string }): Promise<MasterKey> {
  if (source === null) throw new MasterKeyMissingError();
  const label = describeSource(source);
  if (source.kind === "env") return parseKeyText(source.value(), label);
  await checkOutsideDataDir(source.path, options.dataDir, label);
  return parseKeyText(await readKeyFile(source.path, label), label);
}

/**
 * Creates a new key file at `path` (mode 0600; missing parent directories 0700), refusing a
 * path inside `dataDir` or one that exists. Returns the key and a function that deletes the
 * file again, for a caller whose next step failed and that must leave the disk as it was.
 */
export async function createMasterKeyFile(
  path: string,
  options: { dataDir: string; from: string },
): Promise<{ masterKey: MasterKey; remove: () => Promise<void> }> {
  const absolute = resolve(path);
  const label = `${absolute} (${options.from})`;
  await checkOutsideDataDir(absolute, options.dataDir, label);
  await mkdir(dirname(absolute), { recursive: true, mode: PRIVATE_DIR_MODE });
  const bytes = randomBytes(MASTER_KEY_BYTES);
  // One line of base64, the format `openssl rand -base64 32` writes and MOAT_MASTER_KEY takes.
  await writeNewFile(absolute, `${bytes.toString("base64")}\n`, KEY_FILE_MODE);
  await fsyncDir(dirname(absolute));
  return { masterKey: fromBytes(bytes, label), remove: () => unlink(absolute) };
}

/**
 * The key in the file at `path`, creating the file first if there is none (what `moat ca init
 * --master-key-file` and the demo want). `undo` deletes a file this call created, and does
 * nothing otherwise.
 */
export async function openOrCreateMasterKeyFile(
  path: string,
  options: { dataDir: string; from: string },
): Promise<{ masterKey: MasterKey; created: boolean; undo: () => Promise<void> }> {
  try {
    const { masterKey, remove } = await createMasterKeyFile(path, options);
    return { masterKey, created: true, undo: remove };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const masterKey = await loadMasterKey({ kind: "file", path: resolve(path), from: options.from }, options);
  return { masterKey, created: false, undo: async () => undefined };
}

/** A fresh master key that exists only in memory: for tests and benchmarks. */
export function generateMasterKey(source = "a key generated in memory"): MasterKey {
  return fromBytes(randomBytes(MASTER_KEY_BYTES), source);
}
