// A master key for tests that also run `moat` as a child process: the same key in memory and as MOAT_MASTER_KEY.
import { randomBytes } from "node:crypto";
import { resolveMasterKeySource } from "../../src/config/index.ts";
import { loadMasterKey } from "../../src/pki/index.ts";
import type { MasterKey } from "../../src/pki/index.ts";

export interface TestMasterKey {
  masterKey: MasterKey;
  /** Base64 of the key's 32 bytes, as MOAT_MASTER_KEY takes it. */
  base64: string;
  /** `{ MOAT_MASTER_KEY: base64 }`, for a child's environment. */
  env: { MOAT_MASTER_KEY: string };
}

/**
 * @example
 * const key = await createTestMasterKey();
 * await initCertificateAuthority({ dataDir, masterKey: key.masterKey });
 * startMoat(["start", "--config", file], { cwd: dir, env: key.env });
 */
export async function createTestMasterKey(): Promise<TestMasterKey> {
  const base64 = randomBytes(32).toString("base64");
  const env = { MOAT_MASTER_KEY: base64 };
  // Loaded the way `moat` loads it, so the in-process and the child's key are the same by construction.
  const masterKey = await loadMasterKey(resolveMasterKeySource({ env }), { dataDir: process.cwd() });
  return { masterKey, base64, env };
}
