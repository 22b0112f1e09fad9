// `moat demo` (npm start): a CA, an mTLS-only demo origin and an edge in front of it, run from a store the generated config is applied to, with the admin API beside it.
import { existsSync } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { readConfigDocument, resolveDataDir, resolveEdgeName, resolveMasterKeySource, validateStoredDocument, withAbsolutePaths } from "../../config/index.ts";
import { createCertificateRecorder } from "../../control/certificate-records.ts";
import { runEdge } from "../../edge/index.ts";
import { ListenError } from "../../errors.ts";
import { createLogger, installEdgeMetrics, loadMetrics } from "../../observe/index.ts";
import type { Logger } from "../../observe/index.ts";
import { loadMasterKey, openCertificateAuthority, openOrCreateMasterKeyFile, openOrInitCertificateAuthority, PUBLICATION_FILE, writeCaPublication } from "../../pki/index.ts";
import type { CertificateAuthority } from "../../pki/index.ts";
import type { MasterKey } from "../../pki/index.ts";
import { changedResources, openStore, SQLITE_STORE_FILE } from "../../store/index.ts";
import type { Store } from "../../store/index.ts";
import { applyDocument } from "../local/apply-command.ts";
import { parseCliArgs } from "../cli-args.ts";
import { describeMasterKey, logKeyFileEncrypted } from "../master-key.ts";
import { createDemoOrigin } from "./demo-origin.ts";
import { auditCheckpointIntervalMs, startApi } from "./start-command.ts";
import { createStoreConfigSource } from "./store-config-source.ts";
import { holdStopSignals, serveEdge } from "./serve-edge.ts";

const ports = { https: 8443, http: 8080, origin: 9443, api: 8444 };
/** The demo's own plain-HTTP port publishes its CRLs: certificates point there (RFC 5280 §4.2.1.13). */
const DEMO_CRL_BASE_URL = `http://localhost:${ports.http}/.well-known/moat/`;
const trustDomain = "moat.internal";
/** The demo's API token: one at a time, made at each start (the one before is revoked), short-lived. */
const DEMO_TOKEN = Object.freeze({ name: "demo", file: "demo-api-token", validityMs: 24 * 3600_000 });

function demoConfigYaml(dataDir: string, demoKeyFile: string | null): string {
  const keyLine = demoKeyFile === null ? "" : `  masterKeyFile: ${JSON.stringify(demoKeyFile)}   # the demo's own key: for demos only, never next to real data\n`;
  return `# Written by \`npm start\` (moat demo) at every start and applied to the store beside it
# (${SQLITE_STORE_FILE}): an ordinary Moat config. Copy it to write your own;
# \`moat start --config FILE\` runs it from the file.
dataDir: ${JSON.stringify(dataDir)}
pki:
  trustDomain: ${trustDomain}
  clientCertValidity: 24h
${keyLine}listen: { host: 127.0.0.1, https: ${ports.https}, http: ${ports.http} }
distributions:
  - id: demo
    aliases: [localhost]
    viewerCertificate: { issuedBy: moat }
    origins:
      - id: app
        url: https://localhost:${ports.origin}
        # The edge presents spiffe://${trustDomain}/distribution/demo/origin/app and
        # verifies the origin against Moat's own CA bundle (the default trustedCa).
        mtls: { clientCertificate: { issuedBy: moat } }
        timeouts: { connect: 5s, response: 30s }
`;
}

interface DemoMasterKey {
  masterKey: MasterKey;
  /** The demo's own key file, or null when the environment gave a key. */
  demoKeyFile: string | null;
  undo: () => Promise<void>;
}

/**
 * MOAT_MASTER_KEY or MOAT_MASTER_KEY_FILE if set; otherwise the demo's own key in
 * `<dataDir>.master-key`, a sibling of the data directory, created once and reused.
 */
async function demoMasterKey(dataDir: string, log: Logger): Promise<DemoMasterKey> {
  const source = resolveMasterKeySource();
  if (source !== null) return { masterKey: await loadMasterKey(source, { dataDir }), demoKeyFile: null, undo: async () => undefined };
  const demoKeyFile = `${dataDir}.master-key`;
  const { masterKey, created, undo } = await openOrCreateMasterKeyFile(demoKeyFile, { dataDir, from: "the demo's own key file" });
  log.warn(
    { masterKeyFile: demoKeyFile, created },
    "DEMO ONLY: the master key that encrypts the private keys lies next to the data directory, so a copy of both opens every key; in production give MOAT_MASTER_KEY_FILE or pki.masterKeyFile a key kept elsewhere",
  );
  return { masterKey, demoKeyFile, undo };
}

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseCliArgs("demo", args, { "data-dir": { type: "string" } });
  const dataDir = resolveDataDir(values["data-dir"]);
  const log = createLogger();
  const heldSignals = holdStopSignals(log);
  const { masterKey, demoKeyFile, undo } = await demoMasterKey(dataDir, log);
  log.info({ masterKey: describeMasterKey(masterKey) }, "master key loaded");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const opened = await openOrInitCertificateAuthority({ dataDir, masterKey, crlBaseUrl: DEMO_CRL_BASE_URL, onKeyFileEncrypted: logKeyFileEncrypted(log) }).catch(async (error: unknown) => {
    // A key file made just now that does not open this data directory's CA is of no use to anyone.
    await undo();
    throw error;
  });
  const { created } = opened;
  let { ca } = opened;
  // A demo CA made before CRL Distribution Points gets the demo's; one set (or cleared) with `moat ca publication` is left alone.
  if (!existsSync(join(dataDir, "ca", PUBLICATION_FILE))) {
    await writeCaPublication(dataDir, { crlBaseUrl: DEMO_CRL_BASE_URL });
    ca = await openCertificateAuthority({ dataDir, masterKey });
  }
  log.info({ dataDir, created }, created ? "created a new CA for the demo" : "using the existing CA");

  const configFile = join(dataDir, "demo.yaml");
  await writeFile(configFile, demoConfigYaml(dataDir, demoKeyFile));
  const store = await openStore({ address: `sqlite:${join(dataDir, SQLITE_STORE_FILE)}`, validate: validateStoredDocument });
  // The demo's edge reports in the store's edges table as `moat start --store` does (`moat edge list` shows it), under
  // MOAT_EDGE_NAME or the host name, the name its certificate records use too.
  const edgeName = resolveEdgeName(undefined);
  const source = createStoreConfigSource({ store, dataDir, edge: edgeName });
  let closeOrigin = async () => undefined as void;
  // The demo holds the CA and writes to the store, as a CA node does: it signs audit checkpoints too (`moat audit verify` shows them).
  const checkpointing = await import("../../control/audit-checkpoints.ts");
  const checkpointIntervalMs = auditCheckpointIntervalMs(checkpointing, "demo");
  try {
    await applyDemoConfig(store, configFile, log);
    const config = await source.load();
    const { file: tokenFile, secret: token } = await renewDemoToken(store, dataDir, log);
    const originCertificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 7 * 24 * 3600_000 });
    const origin = createDemoOrigin({
      certificate: originCertificate,
      trustedClientCaPem: ca.bundlePem,
      acceptedIdentity: `spiffe://${trustDomain}/distribution/demo/origin/app`,
    });
    await new Promise<void>((resolve, reject) => {
      origin.once("error", (error) => reject(new ListenError("the demo origin", "127.0.0.1", ports.origin, error)));
      origin.listen(ports.origin, "127.0.0.1", resolve);
    });
    closeOrigin = () => new Promise<void>((resolve) => origin.close(() => resolve()));
    // The demo's edge keeps the store's certificate records as `moat start --store` does, under MOAT_EDGE_NAME or the host name.
    const recorder = createCertificateRecorder({ store, edge: edgeName, dataDir: config.dataDir, log: log.child({ part: "certificate-records" }) });
    // The edge counts its traffic (no /metrics port: the demo's counters are for the console's traffic page).
    const metrics = (await loadMetrics()).createProcessMetrics();
    installEdgeMetrics(metrics.recorder);
    // The API follows the CA the edge rotates to (its server certificate and the bundle admin certificates verify against).
    let caInUse = ca;
    let apiFollowsCa: ((next: CertificateAuthority) => Promise<void>) | undefined;
    const onCaInUse = (next: CertificateAuthority) => {
      caInUse = next;
      void apiFollowsCa?.(next).catch((error: unknown) => log.error({ err: error }, "the admin API could not take the rotated CA; restart the demo if admin clients are refused"));
    };
    const edge = await runEdge({ config, ca, masterKey, log, certificateEvents: recorder, onCaInUse });
    await recorder.sync();
    const api = await startApi({ host: "127.0.0.1", port: ports.api, store }, config, caInUse, masterKey, log, recorder, () => metrics.json()).catch(async (error: unknown) => {
      await edge.stop();
      throw error;
    });
    apiFollowsCa = api.useCa;
    const checkpoints = checkpointing.startAuditCheckpoints({ audit: store.audit, label: store.label, dataDir: config.dataDir, masterKey, ca: () => caInUse, name: edgeName, log: log.child({ part: "audit-checkpoints" }), intervalMs: checkpointIntervalMs });
    printWelcome({ dataDir, configFile, demoKeyFile, apiUrl: api.url, tokenFile, token });
    await serveEdge({
      edge,
      source,
      log,
      onStopping: async () => {
        recorder.stop();
        await api.close();
        await closeOrigin();
      },
      beforeSourceClose: () => checkpoints.close(),
      heldSignals,
    });
  } catch (error) {
    // A start that fails lets go of what it opened; once serving, serveEdge closes the store.
    await closeOrigin();
    await source.close().catch(() => undefined);
    throw error;
  }
  return 0;
}

/**
 * Makes the store hold demo.yaml, as `moat apply` would: a new revision only when it differs from what the store
 * holds (a change made through the API is undone by the next start: the file is the demo's source of truth).
 */
async function applyDemoConfig(store: Store, configFile: string, log: Logger): Promise<void> {
  const document = withAbsolutePaths((await readConfigDocument(configFile)) as Record<string, unknown>, dirname(configFile));
  const { diff, revision, isApplied } = await applyDocument(store, document, {
    actor: "moat demo",
    summary: (planned) => `apply demo.yaml: ${changedResources(planned)}`,
    rerun: "npm start",
  });
  log.info({ store: store.label, revision, applied: isApplied, changes: diff.changes.length }, isApplied ? "demo config applied to the store" : "the store already holds the demo config");
}

/**
 * Revokes the demo tokens of earlier starts and makes a new one (role admin, 24 h), written to a file only its
 * owner reads. Its secret goes to that file, and to the welcome only when stdout is a terminal (to sign in to the
 * console); never to the log, which names the token by its id.
 */
async function renewDemoToken(store: Store, dataDir: string, log: Logger): Promise<{ file: string; secret: string }> {
  const now = new Date();
  const earlier = (await store.tokens.list()).filter((token) => token.name === DEMO_TOKEN.name && token.revokedAt === null);
  for (const token of earlier) await store.tokens.revoke(token.id, now, "moat demo");
  const { secret, token } = await store.tokens.create({ name: DEMO_TOKEN.name, role: "admin", expiresAt: new Date(now.getTime() + DEMO_TOKEN.validityMs), createdBy: "moat demo", now });
  const file = join(dataDir, DEMO_TOKEN.file);
  await writeSecretFile(file, `${secret}\n`);
  log.info({ tokenId: token.id, role: token.role, expiresAt: token.expiresAt, tokenFile: file, revoked: earlier.map((item) => item.id) }, "demo API token made");
  return { file, secret };
}

/** Written whole under a temporary name created 0600, then renamed over the old file: never readable by others, never half there. */
async function writeSecretFile(file: string, text: string): Promise<void> {
  const partial = `${file}.partial`;
  await rm(partial, { force: true });
  const handle = await open(partial, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
}

function printWelcome(options: { dataDir: string; configFile: string; demoKeyFile: string | null; apiUrl: string; tokenFile: string; token: string }): void {
  const { dataDir, configFile, demoKeyFile, apiUrl, tokenFile, token: secret } = options;
  const shown = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path));
  const bundle = shown(join(dataDir, "ca", "bundle.pem"));
  const token = shown(tokenFile);
  // The secret only on a terminal, where a person reads it: stdout that is a pipe or a file carries the log, which never holds one.
  const signIn = process.stdout.isTTY === true ? `this token (admin, 24 h): ${secret}` : `the token in ${token}: cat ${token}`;
  const keyWarning =
    demoKeyFile === null
      ? ""
      : `
WARNING: for demos only. The master key that encrypts the private keys is in
${shown(demoKeyFile)}, right next to the data directory. In production keep it
elsewhere and name it with MOAT_MASTER_KEY_FILE or pki.masterKeyFile.
`;
  process.stdout.write(`
Moat demo is running.
  edge:   https://localhost:${ports.https}  (plain HTTP on ${ports.http} redirects)
  origin: https://localhost:${ports.origin}  (accepts only the demo distribution's edge certificate)
  admin API: ${apiUrl}  (its certificate is from the same CA)
  config: ${shown(configFile)}, applied to the store ${shown(join(dataDir, SQLITE_STORE_FILE))} at each start

Through the edge (works):
  curl --cacert ${bundle} https://localhost:${ports.https}/hello

Straight to the origin (refused: no edge certificate, so the TLS handshake fails):
  curl --cacert ${bundle} https://localhost:${ports.origin}/hello

Certificates name their CRL (CRL Distribution Points), served on the plain-HTTP port:
  openssl s_client -connect localhost:${ports.https} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -ext crlDistributionPoints

The admin API, with an admin token valid for 24 h (in ${token}, replaced at each start):
  MOAT_API=${apiUrl} MOAT_API_CA=${bundle} MOAT_TOKEN_FILE=${token} npm run moat -- dist list
  curl --cacert ${bundle} -H "Authorization: Bearer $(cat ${token})" ${apiUrl}/distributions

The web console, on the admin API (your browser must trust ${bundle}, Moat's CA, to open it):
  console: ${apiUrl}/console/
  sign in with ${signIn}

Ctrl-C drains and stops.
${keyWarning}
`);
}
