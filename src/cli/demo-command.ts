// `moat demo` (npm start): a CA, an mTLS-only demo origin and an edge in front of it, run from a generated config.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { loadConfigFile, resolveDataDir } from "../config/index.ts";
import { runEdge } from "../edge/index.ts";
import { ListenError } from "../errors.ts";
import { createLogger } from "../observe/index.ts";
import { openOrInitCertificateAuthority } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";
import { createDemoOrigin } from "./demo-origin.ts";
import { serveEdge } from "./serve-edge.ts";

const ports = { https: 8443, http: 8080, origin: 9443 };
const trustDomain = "moat.internal";

function demoConfigYaml(dataDir: string): string {
  return `# Written by \`npm start\` (moat demo) at every start: an ordinary Moat config.
# Copy it to write your own; \`moat start --config FILE\` runs it.
dataDir: ${JSON.stringify(dataDir)}
pki:
  trustDomain: ${trustDomain}
  clientCertValidity: 24h
listen: { host: 127.0.0.1, https: ${ports.https}, http: ${ports.http} }
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

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseCliArgs("demo", args, { "data-dir": { type: "string" } });
  const dataDir = resolveDataDir(values["data-dir"]);
  const log = createLogger();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { ca, created } = await openOrInitCertificateAuthority({ dataDir });
  log.info({ dataDir, created }, created ? "created a new CA for the demo" : "using the existing CA");

  const configFile = join(dataDir, "demo.yaml");
  await writeFile(configFile, demoConfigYaml(dataDir));
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
  const edge = await runEdge({ config, ca, log }).catch(async (error: unknown) => {
    await closeOrigin();
    throw error;
  });
  printWelcome(dataDir, configFile);
  await serveEdge({
    edge,
    configFile,
    log,
    onStopping: closeOrigin,
  });
  return 0;
}

function printWelcome(dataDir: string, configFile: string): void {
  const shown = (path: string) => (relative(process.cwd(), path).startsWith("..") ? path : relative(process.cwd(), path));
  const bundle = shown(join(dataDir, "ca", "bundle.pem"));
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

`);
}
