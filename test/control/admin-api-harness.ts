// What every admin API test needs: an engine's fresh store, the API on it over real TLS on loopback, a token per role, captured logs.
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import type { TestContext } from "node:test";
import pino from "pino";
import { startAdminApi, storeDocumentValidator } from "../../src/control/index.ts";
import type { AdminApiOptions, ApiRoute } from "../../src/control/index.ts";
import { generateMasterKey, initCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority, MasterKey } from "../../src/pki/index.ts";
import { API_ROLES, openStore } from "../../src/store/index.ts";
import type { ApiRole, Store } from "../../src/store/index.ts";
import { callApi } from "./admin-api-client.ts";
import type { ApiAnswer, CallOptions, Caller } from "./admin-api-client.ts";

export interface EngineUnderTest {
  /** A new, empty store address for this test. */
  freshAddress(t: TestContext): Promise<string>;
  /** Every row of a table, read behind the store's back. */
  rawRows(address: string, table: string): Promise<Record<string, unknown>[]>;
  /** Runs a statement behind the store's back (to tamper with the audit trail); the audit contract needs it. */
  rawExecute?(address: string, statement: string): Promise<void>;
}

export function distribution(id: string, alias = `${id}.example`, url = "https://app.internal:8443") {
  return { id, aliases: [alias], origins: [{ id: "app", url }] };
}

export const DAY_MS = 86_400_000;

/** The edge whose data directory each test's API is beside: the name its certificates are recorded under in the store. */
export const HARNESS_EDGE = "api-test-edge";

export interface Harness {
  store: Store;
  /** This API's data directory: the suite's CA (copied), and whatever certificates and invalidations the test makes. */
  dataDir: string;
  masterKey: MasterKey;
  address: string;
  url: string;
  routes: readonly ApiRoute[];
  logs: string[];
  /** A token per role, made in the store directly. */
  tokens: Record<ApiRole, string>;
  call(caller: Caller, path: string, options?: CallOptions): Promise<ApiAnswer>;
  /** Moves the API's clock on. */
  advance(ms: number): void;
}

/** What a refused request must leave as it was: the revision, every resource, every token (whose last use may move: it was used), the audit trail's head. */
export async function snapshot(store: Store) {
  const tokens = (await store.tokens.list()).map(({ lastUsedAt: _lastUsedAt, ...token }) => token);
  return { revision: await store.revision(), read: await store.read(), tokens, audit: await store.audit.head() };
}

/** The random part of a token (`moat_<16 hex>_<secret>`), which must never be shown again or logged. */
export function secretOf(token: string): string {
  return token.slice("moat_0123456789abcdef_".length);
}

export function assertProblem(answer: ApiAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(String(answer.headers["content-type"]), /^application\/problem\+json/);
  assert.equal(answer.json.status, status);
  assert.equal(answer.json.code, code);
  assert.equal(answer.json.type, `urn:moat:error:${code}`);
  assert.equal(typeof answer.json.detail, "string");
}

export type SetUpOptions = Partial<AdminApiOptions> & { wrapStore?: (store: Store) => Store };

/** Registers the suite's CA (one per suite: no committed PEM or key) and returns what starts an API for one test. */
export function useAdminApi(engine: EngineUnderTest): { ca: () => CertificateAuthority; setUp: (t: TestContext, options?: SetUpOptions) => Promise<Harness> } {
  let ca: CertificateAuthority;
  let suiteDir: string;
  const masterKey = generateMasterKey();
  before(async () => {
    // On disk (not ephemeral): the certificate, CA and invalidation routes work on a data directory; each test gets a copy.
    suiteDir = await mkdtemp(join(tmpdir(), "moat-api-ca-"));
    ca = await initCertificateAuthority({ dataDir: join(suiteDir, "ca-source"), masterKey });
  });
  after(() => rm(suiteDir, { recursive: true, force: true }));

  async function setUp(t: TestContext, options: SetUpOptions = {}): Promise<Harness> {
    const address = await engine.freshAddress(t);
    const store = await openStore({ address, validate: storeDocumentValidator });
    const logs: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(line) });
    let nowMs = Date.now();
    const clock = () => new Date(nowMs);
    const { wrapStore, ...rest } = options;
    const dataDir = await mkdtemp(join(suiteDir, "data-"));
    await cp(join(suiteDir, "ca-source"), dataDir, { recursive: true });
    const api = await startAdminApi({ store: wrapStore ? wrapStore(store) : store, ca, listen: { host: "127.0.0.1", port: 0 }, logger, clock, dataDir: { dataDir, masterKey }, edgeName: HARNESS_EDGE, ...rest });
    t.after(async () => {
      await api.close();
      await store.close();
    });
    const tokens = {} as Record<ApiRole, string>;
    // Longer than any token the API makes (366d at most): a token may not create one that outlives it.
    for (const role of API_ROLES) {
      tokens[role] = (await store.tokens.create({ name: `${role}-test`, role, expiresAt: new Date(nowMs + 400 * DAY_MS), createdBy: "test", now: clock() })).secret;
    }
    return {
      store,
      dataDir,
      masterKey,
      address,
      url: api.url,
      routes: api.routes,
      logs,
      tokens,
      call: (caller, path, callOptions) => callApi(api.url, ca.bundlePem, caller, path, callOptions),
      advance: (ms) => {
        nowMs += ms;
      },
    };
  }
  return { ca: () => ca, setUp };
}
