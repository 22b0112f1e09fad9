// `moat demo` (npm start): a CA, an mTLS-only demo origin and an edge in front of it, run from a generated config.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { loadConfigFile, resolveDataDir, resolveMasterKeySource } from "../config/index.ts";
import { runEdge } from "../edge/index.ts";
import { ListenError } from "../errors.ts";
import { createLogger } from "../observe/index.ts";
import type { Logger } from "../observe/index.ts";
import { loadMasterKey, openOrCreateMasterKeyFile, openOrInitCertificateAuthority } from "../pki/index.ts";
import type { MasterKey } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";
import { describeMasterKey, logKeyFileEncrypted } from "./master-key.ts";
import { createDemoOrigin } from "./demo-origin.ts";
import { holdStopSignals, serveEdge } from "./serve-edge.ts";

const ports = { https: 8443, http: 8080, origin: 9443 };
const trustDomain = "moat.internal";

function demoConfigYaml(dataDir: string, demoKeyFile: string | null): string {
  const keyLine = demoKeyFile === null ? "" : `  masterKeyFile: ${JSON.stringify(demoKeyFile)}   # the demo's own key: for demos only, never next to real data\n`;
  return `# Written by \`npm start\` (moat demo) at every start: an ordinary Moat config.
# Copy it to write your own; \`moat start --config FILE\` runs it.
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
  const { ca, created } = await openOrInitCertificateAuthority({ dataDir, masterKey, onKeyFileEncrypted: logKeyFileEncrypted(log) }).catch(async (error: unknown) => {
    // A key file made just now that does not open this data directory's CA is of no use to anyone.
    await undo();
    throw error;
  });
  log.info({ dataDir, created }, created ? "created a new CA for the demo" : "using the existing CA");

  const configFile = join(dataDir, "demo.yaml");
  await writeFile(configFile, demoConfigYaml(dataDir, demoKeyFile));
  const config = await loadConfigFile(configFile);

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
  const closeOrigin = () => new Promise<void>((resolve) => origin.close(() => resolve()));
  const edge = await runEdge({ config, ca, masterKey, log }).catch(async (error: unknown) => {
    await closeOrigin();
    throw error;
  });
  printWelcome(dataDir, configFile, demoKeyFile);
  await serveEdge({
    edge,
    configFile,
    log,
    onStopping: closeOrigin,
    heldSignals,
  });
  return 0;
}

function printWelcome(dataDir: string, configFile: string, demoKeyFile: string | null): void {
  const shown = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path));
  const bundle = shown(join(dataDir, "ca", "bundle.pem"));
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
  config: ${shown(configFile)}

Through the edge (works):
  curl --cacert ${bundle} https://localhost:${ports.https}/hello

Straight to the origin (refused: no edge certificate, so the TLS handshake fails):
  curl --cacert ${bundle} https://localhost:${ports.origin}/hello

Ctrl-C drains and stops.
${keyWarning}
`);
}
