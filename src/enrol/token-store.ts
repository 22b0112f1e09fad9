// One-time bootstrap tokens, <dataDir>/enrol/tokens/<id>.json: stored as a SHA-256 of the secret, valid until they expire, spent by one atomic rename.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { EnrolmentError } from "../errors.ts";
import { writeFileAtomic } from "../pki/index.ts";

/** What a token lets its bearer get: a server certificate with exactly these names. */
export interface TokenGrant {
  id: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** Life of each certificate issued (and renewed) under this enrolment. */
  validityMs: number;
}

interface StoredToken extends TokenGrant {
  secretSha256: string;
  createdAt: string;
  expiresAt: string;
}

const TOKEN_PREFIX = "moat-enrol";
// The id names the file: hex only, so no token text can reach outside the directory.
const TOKEN_FORMAT = /^moat-enrol\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

function tokensDir(dataDir: string): string {
  return join(dataDir, "enrol", "tokens");
}

function usedDir(dataDir: string): string {
  return join(dataDir, "enrol", "used");
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Creates a token and stores only its hash. The token itself is returned once, to be handed to the
 * origin host's operator; Moat cannot show it again.
 *
 * @example
 * const { token, expiresAt } = await createEnrolmentToken({ dataDir, dnsNames: ["api.internal"], ipAddresses: [], ttlMs: 3_600_000, validityMs: 7 * 86_400_000 });
 */
export async function createEnrolmentToken(options: {
  dataDir: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  ttlMs: number;
  validityMs: number;
  now: Date;
}): Promise<{ token: string; id: string; expiresAt: Date }> {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const expiresAt = new Date(options.now.getTime() + options.ttlMs);
  const stored: StoredToken = {
    id,
    dnsNames: [...options.dnsNames],
    ipAddresses: [...options.ipAddresses],
    validityMs: options.validityMs,
    secretSha256: sha256(secret).toString("hex"),
    createdAt: options.now.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
  await mkdir(tokensDir(options.dataDir), { recursive: true, mode: 0o700 });
  await pruneExpiredTokens(options.dataDir, options.now);
  await writeFileAtomic(join(tokensDir(options.dataDir), `${id}.json`), `${JSON.stringify(stored, null, 2)}\n`, 0o600);
  return { token: `${TOKEN_PREFIX}.${id}.${secret}`, id, expiresAt };
}

/** Expired tokens are deleted when a new one is made: they could never be redeemed anyway. */
async function pruneExpiredTokens(dataDir: string, now: Date): Promise<void> {
  for (const file of await readdir(tokensDir(dataDir)).catch(() => [] as string[])) {
    if (!file.endsWith(".json")) continue;
    const stored = await readStored(join(tokensDir(dataDir), file));
    if (stored && new Date(stored.expiresAt) <= now) await rm(join(tokensDir(dataDir), file), { force: true });
  }
}

async function readStored(path: string): Promise<StoredToken | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as StoredToken;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

const invalid = () => new EnrolmentError("enrol-token-invalid", 401, "the enrolment token is not valid.", { fix: "ask the CA's operator for a new one (`moat enrol token`)" });

/**
 * Checks a token without spending it: format, a stored token with that id, the secret's hash, the
 * expiry. Throws EnrolmentError (enrol-token-invalid, -used, -expired); says nothing more to a guesser.
 */
export async function checkEnrolmentToken(dataDir: string, token: string, now: Date): Promise<TokenGrant> {
  const match = TOKEN_FORMAT.exec(token.trim());
  if (!match) throw invalid();
  const [, id = "", secret = ""] = match;
  const stored = await readStored(join(tokensDir(dataDir), `${id}.json`));
  if (!stored) {
    const spent = await readStored(join(usedDir(dataDir), `${id}.json`));
    if (spent && timingSafeEqual(Buffer.from(spent.secretSha256, "hex"), sha256(secret))) {
      throw new EnrolmentError("enrol-token-used", 401, "this enrolment token was already used; a token enrols one host once.", { fix: "ask the CA's operator for a new one (`moat enrol token`)" });
    }
    throw invalid();
  }
  if (!timingSafeEqual(Buffer.from(stored.secretSha256, "hex"), sha256(secret))) throw invalid();
  if (new Date(stored.expiresAt) <= now) {
    throw new EnrolmentError("enrol-token-expired", 401, `the enrolment token expired at ${stored.expiresAt}.`, { fix: "ask the CA's operator for a new one (`moat enrol token --ttl …`)" });
  }
  return { id: stored.id, dnsNames: stored.dnsNames, ipAddresses: stored.ipAddresses, validityMs: stored.validityMs };
}

/**
 * Spends a checked token: renames its file into `used/`. rename(2) is atomic, so of two requests
 * racing with the same token exactly one wins; the other gets enrol-token-used.
 */
export async function spendEnrolmentToken(dataDir: string, grant: TokenGrant): Promise<void> {
  await mkdir(usedDir(dataDir), { recursive: true, mode: 0o700 });
  try {
    await rename(join(tokensDir(dataDir), `${grant.id}.json`), join(usedDir(dataDir), `${grant.id}.json`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new EnrolmentError("enrol-token-used", 401, "this enrolment token was already used; a token enrols one host once.", { fix: "ask the CA's operator for a new one (`moat enrol token`)" });
  }
}
