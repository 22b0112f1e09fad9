// CA rotation across a fleet on one SQLite store: a real edge reports the CA it trusts and its certificates' expiry; a second edge's row, written through the store, holds a root rollover's activation back until it reports the new root.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { validateStoredDocument } from "../../../src/config/index.ts";
import { initCertificateAuthority } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import type { CaStatus, EdgeList } from "../../../src/sdk/index.ts";
import { openStore } from "../../../src/store/index.ts";
import type { Store } from "../../../src/store/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { isGroupAlive, runMoat, startMoat } from "../moat-process.ts";
import type { MoatRun, RunningMoat } from "../moat-process.ts";

const CLEAN_ENV = { MOAT_API: "", MOAT_API_CA: "", MOAT_TOKEN_FILE: "", MOAT_TOKEN: "", MOAT_API_CERT: "", MOAT_API_KEY: "", MOAT_CONTEXT: "", MOAT_STORE: "", MOAT_DATA_DIR: "", MOAT_EDGE_REGION: "" };
const HEARTBEAT_MS = 2_000;

let dir: string;
let storeAddress: string;
let key: TestMasterKey;
let ca: CertificateAuthority;
let origin: TestOrigin;
let edge: RunningMoat | undefined;
let store: Store;
let apiEnv: NodeJS.ProcessEnv;

const moat = (args: string[]): Promise<MoatRun> => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: apiEnv }), 90_000);
const local = (args: string[]) => withDeadline(`moat ${args.join(" ")}`, runMoat(args, { cwd: dir, env: { ...CLEAN_ENV, ...key.env } }), 60_000);

/** A `--json` command polled until `isDone` holds (bounded). */
async function jsonUntil<T>(what: string, args: string[], isDone: (value: T) => boolean): Promise<T> {
  let last: T | undefined;
  return withDeadline(
    what,
    (async () => {
      for (;;) {
        const run = await moat([...args, "--json"]);
        assert.equal(run.code, 0, run.stderr);
        last = JSON.parse(run.stdout) as T;
        if (isDone(last)) return last;
        await sleep(250);
      }
    })(),
    90_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last answer: ${JSON.stringify(last)}`);
  });
}

/** Another edge of the fleet, as its heartbeat would write its row: live for ten minutes, trusting `roots`. */
function reportOtherEdge(roots: string[]): Promise<void> {
  const now = new Date().toISOString();
  return store.edges.report({ name: "edge-z", revision: 1, servedAt: now, lastSeenAt: now, startedAt: now, version: "0.1.0", region: "ap-south", heartbeatMs: 600_000, caTrust: { roots, intermediate: new X509Certificate(ca.intermediatePem).fingerprint256 } });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "moat-fleet-rotation-"));
  key = await createTestMasterKey();
  ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
  origin = await startTestOrigin({
    certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }),
    clientCaPem: ca.bundlePem,
    handler: (_req, res) => res.end("page"),
  });
  storeAddress = `sqlite:${join(dir, "fleet.db")}`;
  await writeFile(
    join(dir, "moat.yaml"),
    `dataDir: ./data
workers: 1
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins:
      - { id: a, url: "${origin.url}" }
    behaviors:
      - { path: "*", target: a }
`,
  );
  const applied = await local(["apply", "-f", join(dir, "moat.yaml"), "--store", storeAddress]);
  assert.equal(applied.code, 0, applied.stderr);
  await writeFile(join(dir, "moat-ca.pem"), ca.bundlePem);
  const copies = join(dir, "edge-a");
  await mkdir(copies, { recursive: true, mode: 0o700 });
  edge = startMoat(["start", "--store", storeAddress, "--edge-name", "edge-a", "--region", "eu-west", "--api", "127.0.0.1:0"], {
    cwd: dir,
    env: { ...CLEAN_ENV, ...key.env, MOAT_DATA_DIR: copies, MOAT_EDGE_HEARTBEAT_MS: String(HEARTBEAT_MS) },
    detached: true,
  });
  const apiUrl = String((await withDeadline("the admin API to listen", edge.waitForLine("admin API listening", (line) => line.msg === "admin API listening"), 90_000)).url);
  const created = await local(["token", "create", "--role", "admin", "--name", "admin-cli", "--store", storeAddress]);
  assert.equal(created.code, 0, created.stderr);
  await writeFile(join(dir, "admin.token"), created.stdout, { mode: 0o600 });
  apiEnv = { ...CLEAN_ENV, MOAT_CONTEXTS: join(dir, "contexts.yaml"), MOAT_API: apiUrl, MOAT_API_CA: join(dir, "moat-ca.pem"), MOAT_TOKEN_FILE: join(dir, "admin.token") };
  // The test's own handle on the store file, beside the edge's (WAL): what a second edge would write.
  store = await openStore({ address: storeAddress, validate: validateStoredDocument });
});

after(async () => {
  await store?.close();
  if (edge?.child.pid && isGroupAlive(edge.child.pid)) process.kill(-edge.child.pid, "SIGKILL");
  if (edge) await withDeadline("the edge to exit", edge.exited, 60_000).catch(() => undefined);
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("an edge reports the CA it trusts and its certificates' expiry; a root rollover's activation is refused while a live edge lacks the new root, naming it, and goes through once it reports it", { timeout: 300_000 }, async () => {
  const rootFingerprint = new X509Certificate(ca.rootPem).fingerprint256;
  const row = (list: EdgeList, name: string) => list.items.find((item) => item.name === name);

  // The real edge: its row carries the fingerprints of the CA it serves with, and its synced certificates.
  const reported = await jsonUntil<EdgeList>("edge a to report its CA and certificates", ["edge", "list"], (list) => row(list, "edge-a")?.caTrust != null && row(list, "edge-a")!.certificates.length > 0);
  const a = row(reported, "edge-a")!;
  assert.deepEqual(a.caTrust, { roots: [rootFingerprint], intermediate: new X509Certificate(ca.intermediatePem).fingerprint256 });
  const notAfters = a.certificates.map((certificate) => certificate.notAfter);
  assert.deepEqual(notAfters, [...notAfters].sort(), "soonest expiry first");
  assert.equal(a.certificatesExpireAt, notAfters[0]);
  assert.equal(a.certificatesExpiringSoon, notAfters.filter((at) => Date.parse(at) <= Date.now() + 7 * 86_400_000).length);
  for (const certificate of a.certificates) assert.match(certificate.serialHex, /^[0-9a-f]+$/);
  const table = await moat(["edge", "list"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`^NAME +REGION +REVISION +BEHIND +LAST HEARTBEAT +HEALTH +CERTS EXPIRE +JOINED\\nedge-a +eu-west +1 +0 +.+ ago +ok +${a.certificatesExpireAt!.slice(0, 10)}[^\\n]* +self-issuing\\n`));

  // A second edge of the fleet, live, that trusts the old root only.
  await reportOtherEdge([rootFingerprint]);
  const prepared = await moat(["ca", "rollover", "--prepare"]);
  assert.equal(prepared.code, 0, prepared.stderr);
  // As the rollover asks of every peer, the CLI takes the bundle with both roots: after *activate* the
  // API's own certificate comes from the new root.
  const bundle = await moat(["ca", "bundle"]);
  assert.equal(bundle.code, 0, bundle.stderr);
  assert.equal(bundle.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2, "both roots during the overlap");
  await writeFile(join(dir, "moat-ca.pem"), bundle.stdout);
  // Edge a takes the new bundle and reports it; edge-z does not: the status says who holds the activation back.
  const during = await jsonUntil<CaStatus>("edge a to report the new root", ["ca", "status"], (status) => status.fleet?.trusting.includes("edge-a") === true);
  const newRoot = during.fleet!.rootFingerprint256;
  assert.notEqual(newRoot, rootFingerprint);
  assert.deepEqual(during.fleet, { rootFingerprint256: newRoot, trusting: ["edge-a"], holdingBack: [{ name: "edge-z", health: "ok", roots: [rootFingerprint] }], notWaitedFor: [] });
  const statusText = await moat(["ca", "status"]);
  assert.match(statusText.stdout, new RegExp(`\\nEdges trusting the new root \\(SHA-256 ${newRoot}\\): edge-a\\.\\nHolding the activation back \\(live, without the new root\\): edge-z \\(ok, trusts 1 other root\\(s\\)\\)\\.\\n`));

  const refused = await moat(["ca", "rollover", "--activate"]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.stdout, "");
  assert.match(refused.stderr, /^moat: the admin API refused POST \/ca\/rollover\/activate \(409, ca-rollover-held-back\): cannot activate the new root .*: 1 live edge\(s\) of the fleet do not trust it yet.*: edge-z \(ok; trusts only [0-9A-F:]+\)\. Fix: wait for them to pick up the new bundle/);
  assert.doesNotMatch(refused.stderr, /edge-a/);
  // The local form with --store asks the same fleet.
  const localRefused = await local(["ca", "rollover", "--activate", "--data-dir", join(dir, "data"), "--store", storeAddress]);
  assert.equal(localRefused.code, 1, localRefused.stderr);
  assert.match(localRefused.stderr, /cannot activate the new root .*edge-z \(ok; trusts only [0-9A-F:]+\)/);
  const still = JSON.parse((await moat(["ca", "status", "--json"])).stdout) as CaStatus;
  assert.equal(still.rollover?.phase, "prepared", "a refused activation changes nothing");

  // Edge-z picks the bundle up: the activation goes through.
  await reportOtherEdge([rootFingerprint, newRoot]);
  const activated = await moat(["ca", "rollover", "--activate", "--json"]);
  assert.equal(activated.code, 0, activated.stderr);
  assert.equal((JSON.parse(activated.stdout) as { step: string }).step, "activate-root-rollover");
  // Edge a then issues from the new intermediate, and says so in its row.
  const newIntermediate = new X509Certificate(await readFile(join(dir, "data", "ca", "intermediate.pem"), "utf8")).fingerprint256;
  await jsonUntil<EdgeList>("edge a to report the new intermediate", ["edge", "list"], (list) => row(list, "edge-a")?.caTrust?.intermediate === newIntermediate);
});
