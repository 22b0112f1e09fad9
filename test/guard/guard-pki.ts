// Test PKI for the guard's suites: a CA on disk (so CRLs are published as for real), edge certificates per distribution, and an HTTPS client that presents one.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { generateMasterKey, initCertificateAuthority, publishCrl, revokeCertificate } from "../../src/pki/index.ts";
import type { CertificateAuthority, IssuedCertificate, MasterKey } from "../../src/pki/index.ts";

export const TRUST_DOMAIN = "moat.internal";

export interface GuardPki {
  dataDir: string;
  ca: CertificateAuthority;
  masterKey: MasterKey;
  /** An edge's client certificate for distribution/origin. */
  edge(distributionId: string, originId?: string, times?: { notBefore?: Date; notAfter?: Date }): Promise<IssuedCertificate>;
  /** A server certificate for localhost/127.0.0.1 (the guard's, or an origin's). */
  server(): Promise<IssuedCertificate>;
  /** Revokes and republishes the CRL files; resolves with the new crl-bundle.pem. */
  revoke(cert: IssuedCertificate): Promise<string>;
  /** `<dataDir>/ca/crl-bundle.pem`, publishing it first if needed. */
  crlBundle(): Promise<string>;
  bundlePath: string;
  crlBundlePath: string;
}

/** A CA in its own temp data directory, removed after the test. `name` defaults to Moat's own, as a rolled-over root would keep it. */
export async function createGuardPki(t: TestContext, name?: string, options: { crlBaseUrl?: string } = {}): Promise<GuardPki> {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-guard-pki-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  const ca = await initCertificateAuthority({ dataDir, masterKey, ...(name ? { name } : {}), ...(options.crlBaseUrl ? { crlBaseUrl: options.crlBaseUrl } : {}) });
  const crlBundlePath = join(dataDir, "ca", "crl-bundle.pem");
  await publishCrl({ ca, dataDir, masterKey });
  return {
    dataDir,
    ca,
    masterKey,
    bundlePath: join(dataDir, "ca", "bundle.pem"),
    crlBundlePath,
    edge: (distributionId, originId = "app", times = {}) =>
      ca.issueOriginClientCertificate({ trustDomain: TRUST_DOMAIN, distributionId, originId, validityMs: 86_400_000, ...times }),
    server: () => ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 86_400_000 }),
    revoke: async (cert) => {
      await revokeCertificate({ dataDir, serialHex: cert.serialHex, reason: "keyCompromise", ca });
      return (await publishCrl({ ca, dataDir, masterKey })).bundlePem;
    },
    crlBundle: () => readFile(crlBundlePath, "utf8"),
  };
}

export type ClientOutcome = { status: number; headers: Record<string, string | string[] | undefined>; body: string } | { error: NodeJS.ErrnoException };

/** One HTTPS request on a fresh connection (or on `agent`), presenting `client` if given; resolves with the answer or the error. */
export function requestWith(options: {
  port: number;
  caPem: string;
  client?: IssuedCertificate | undefined;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: https.Agent;
}): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: options.port,
        servername: "localhost",
        path: options.path ?? "/",
        method: options.method ?? "GET",
        headers: options.headers,
        ca: options.caPem,
        ...(options.client ? { cert: options.client.chainPem, key: options.client.keyPem } : {}),
        agent: options.agent ?? false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", (error) => resolve({ error }));
    req.end(options.body);
  });
}
