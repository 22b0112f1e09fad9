// The three TLS endpoints Moat runs, started for real on loopback from one test CA: the edge's viewer port, `moat guard`, the enrolment endpoint.
import { once } from "node:events";
import { createServer } from "node:net";
import type { TestContext } from "node:test";
import { createEnrolmentService, startEnrolmentServer } from "../../src/enrol/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import type { TlsPolicy } from "../../src/tls/index.ts";
import { createGuardPki, type GuardPki } from "../guard/guard-pki.ts";
import { startGuardFixture, type GuardFixture } from "../guard/guard-fixture.ts";
import { startTestEdge, type TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";

export interface TlsEndpoint {
  name: "viewer port" | "moat guard" | "enrolment endpoint";
  port: number;
  /** The name to send as SNI: the viewer port serves a certificate only for a distribution's alias. */
  servername: string;
}

export interface TlsEndpoints {
  pki: GuardPki;
  edge: TestEdge;
  guard: GuardFixture;
  endpoints: TlsEndpoint[];
}

/** The viewer alias the edge serves (its certificate names it; the tests resolve it to 127.0.0.1). */
export const VIEWER_ALIAS = "site.test";

/**
 * @example
 * const { endpoints, pki } = await startTlsEndpoints(t);
 */
export async function startTlsEndpoints(t: TestContext, options: { listenTls?: Partial<TlsPolicy>; publishCrls?: boolean } = {}): Promise<TlsEndpoints> {
  // publishCrls: every certificate names its CRL on the edge's plain-HTTP port (the CA's crlBaseUrl), and
  // the edge serves the CA's data directory there. The port is picked first, since the CA is made before the edge.
  const httpPort = options.publishCrls ? await freePort() : 0;
  const pki = await createGuardPki(t, undefined, options.publishCrls ? { crlBaseUrl: `http://127.0.0.1:${httpPort}/.well-known/moat/` } : {});
  // The page's security headers are the origin's (the edge relays them): this one sends the usual set, so a scan sees them through the edge.
  const origin = await startTestOrigin({
    certificate: await pki.server(),
    clientCaPem: pki.ca.bundlePem,
    handler: (_req, res) => {
      res.writeHead(200, {
        "content-type": "text/plain",
        "strict-transport-security": "max-age=31536000",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "content-security-policy": "default-src 'none'",
        "referrer-policy": "no-referrer",
      });
      res.end("ok");
    },
  });
  t.after(() => origin.close());
  const edge = await startTestEdge(
    pki.ca,
    {
      ...(options.listenTls || options.publishCrls ? { listen: { host: "127.0.0.1", https: 0, http: httpPort, ...(options.listenTls ? { tls: options.listenTls } : {}) } } : {}),
      distributions: [{ id: "site", aliases: [VIEWER_ALIAS], origins: [{ id: "app", url: origin.url }] }],
    },
    options.publishCrls ? { dataDir: pki.dataDir, masterKey: pki.masterKey, keepDataDir: true } : {},
  );
  t.after(() => edge.close());
  const guard = await startGuardFixture(t, pki);
  const service = createEnrolmentService({ ca: pki.ca, dataDir: pki.dataDir, masterKey: pki.masterKey });
  const enrol = await startEnrolmentServer({ service, certificate: await pki.server(), listen: { host: "127.0.0.1", port: 0 }, log: createLogger({ level: "silent" }) });
  t.after(() => enrol.stop());
  return {
    pki,
    edge,
    guard,
    endpoints: [
      { name: "viewer port", port: edge.edge.httpsPort, servername: VIEWER_ALIAS },
      { name: "moat guard", port: guard.guard.port, servername: "localhost" },
      { name: "enrolment endpoint", port: enrol.port, servername: "localhost" },
    ],
  };
}

/** A loopback port free right now (the kernel's pick for port 0), for a listener whose URL must be known before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  await once(probe, "close");
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}
