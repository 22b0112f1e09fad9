// A Moat data directory with a CA (master key in a file), and the certificates both edges present, written as PEM files.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { initCertificateAuthority, openOrCreateMasterKeyFile } from "../../src/pki/index.ts";

/** The name viewers connect to (SNI and Host), and the origin's name: both resolve to 127.0.0.1 without touching /etc/hosts. */
export const BENCH_HOST = "localhost";

export interface BenchPkiFiles {
  dataDir: string;
  masterKeyFile: string;
  /** Moat's CA bundle: origins trust client certificates that chain to it; viewers trust the edges' certificates with it. */
  caBundle: string;
  /** The edges' viewer certificate (chain) and key: Moat imports them, nginx serves them. */
  viewerCert: string;
  viewerKey: string;
  /** The edges' client certificate for the origin (chain) and key. */
  clientCert: string;
  clientKey: string;
  /** The origin's server certificate (chain) and key. */
  originCert: string;
  originKey: string;
}

const DAY_MS = 86_400_000;

/**
 * Creates `<dir>/moat-data` with a CA, and issues with that CA (Moat's own API, ECDSA P-256 as Moat issues by default)
 * one viewer certificate (for `options.viewerNames`, default `localhost`), one origin client certificate and the origin's server certificate, so that Moat and nginx
 * present the very same certificates.
 * @example
 * const files = await createBenchPki(tempDir);
 */
export async function createBenchPki(dir: string, options: { viewerNames?: readonly string[] } = {}): Promise<BenchPkiFiles> {
  const dataDir = join(dir, "moat-data");
  const certsDir = join(dir, "certs");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await mkdir(certsDir, { recursive: true, mode: 0o700 });
  const masterKeyFile = join(dir, "master.key");
  const { masterKey } = await openOrCreateMasterKeyFile(masterKeyFile, { dataDir, from: "bench" });
  const ca = await initCertificateAuthority({ dataDir, masterKey });
  // Longer than 5 days: Moat warns of imported certificates close to expiry.
  const validityMs = 30 * DAY_MS;
  const viewer = await ca.issueServerCertificate({ dnsNames: [...(options.viewerNames ?? [BENCH_HOST])], validityMs });
  const client = await ca.issueOriginClientCertificate({ trustDomain: "moat.internal", distributionId: "bench", originId: "origin", validityMs });
  const origin = await ca.issueServerCertificate({ dnsNames: [BENCH_HOST], ipAddresses: ["127.0.0.1"], validityMs });
  const file = (name: string) => join(certsDir, name);
  const files: BenchPkiFiles = {
    dataDir,
    masterKeyFile,
    caBundle: file("ca-bundle.pem"),
    viewerCert: file("viewer.pem"),
    viewerKey: file("viewer.key"),
    clientCert: file("client.pem"),
    clientKey: file("client.key"),
    originCert: file("origin.pem"),
    originKey: file("origin.key"),
  };
  await writeFile(files.caBundle, ca.bundlePem);
  for (const [cert, key, issued] of [
    [files.viewerCert, files.viewerKey, viewer],
    [files.clientCert, files.clientKey, client],
    [files.originCert, files.originKey, origin],
  ] as const) {
    await writeFile(cert, issued.chainPem);
    await writeFile(key, issued.keyPem, { mode: 0o600 });
  }
  return files;
}
