// The enrolment endpoint: HTTPS (a certificate from Moat's own CA, so clients verify it against Moat's bundle), JSON in and out, three routes.
import { X509Certificate } from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
// The defaults file alone, not config/index.ts: `moat/guard` stays free of the config loader (yaml, zod).
import { CONNECTION_DEFAULTS } from "../config/defaults.ts";
import { applyHttpsConnectionPolicy, type ConnectionLimits } from "../connections/index.ts";
import { EnrolmentError, MoatError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";
import { tlsPolicyOptions, type TlsPolicy } from "../tls/index.ts";
import type { IssuedCertificate } from "../pki/index.ts";
import { ENROL_PATHS, enrolRequest, renewRequest, type EnrolAnswer } from "./enrol-protocol.ts";
import type { EnrolmentService } from "./enrol-service.ts";

const MAX_BODY_BYTES = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new EnrolmentError("enrol-request-invalid", 413, `the request body is over ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new EnrolmentError("enrol-request-invalid", 400, "the request body is not JSON.");
  }
}

function parse<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${issue.path.map(String).join(".") || "(body)"}: ${issue.message}`).join("; ");
  throw new EnrolmentError("enrol-request-invalid", 400, `the request is not valid: ${issues}.`);
}

/** The audit facts of an issued certificate: serial, fingerprint, names, not-after (never the certificate itself). */
function describeIssued(answer: EnrolAnswer): Record<string, string> {
  const cert = new X509Certificate(answer.certificate);
  return { serial: cert.serialNumber.toLowerCase(), fingerprint256: cert.fingerprint256, sans: cert.subjectAltName ?? "", notAfter: answer.notAfter };
}

/**
 * The routes as a plain request handler, so that the admin API can mount it when it exists:
 * POST /v1/enrol {token, csr}, POST /v2/renew {csr, certificate, signedAt, proof}, GET /v1/trust.
 */
export function enrolmentRequestHandler(service: EnrolmentService, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const route = `${req.method} ${req.url}`;
    const work = async () => {
      if (route === `GET ${ENROL_PATHS.trust}`) return send(res, 200, await service.trust());
      if (route === `POST ${ENROL_PATHS.enrol}`) {
        const answer = await service.enrol(parse(enrolRequest, await readJson(req)));
        log.info({ remote: req.socket.remoteAddress, ...describeIssued(answer) }, "enrolled a host");
        return send(res, 200, answer);
      }
      if (route === `POST ${ENROL_PATHS.renew}`) {
        const answer = await service.renew(parse(renewRequest, await readJson(req)));
        log.info({ remote: req.socket.remoteAddress, ...describeIssued(answer) }, "renewed a host's certificate");
        return send(res, 200, answer);
      }
      return send(res, 404, { error: "not-found", message: `no route ${route}; the routes are POST ${ENROL_PATHS.enrol}, POST ${ENROL_PATHS.renew}, GET ${ENROL_PATHS.trust}` });
    };
    work().catch((error: unknown) => {
      if (error instanceof MoatError && error.status < 500) {
        log.warn({ remote: req.socket.remoteAddress, route, error: error.code }, "refused an enrolment request");
        return send(res, error.status, { error: error.code, message: error.message });
      }
      log.error({ route, error: (error as Error).message }, "enrolment request failed");
      send(res, 500, { error: "internal", message: "the CA could not answer; its log says why" });
    });
  };
}

export interface RunningEnrolmentServer {
  port: number;
  /** Serves with a new certificate from now on (a renewal of the endpoint's own). */
  setCertificate(certificate: IssuedCertificate): void;
  stop(): Promise<void>;
}

/**
 * @example
 * const server = await startEnrolmentServer({ service, certificate, listen: { host: "0.0.0.0", port: 9444 }, log });
 */
export async function startEnrolmentServer(options: {
  service: EnrolmentService;
  certificate: IssuedCertificate;
  listen: { host: string; port: number };
  log: Logger;
  /** Deadlines and caps; default CONNECTION_DEFAULTS.enrolConnections. */
  connections?: ConnectionLimits;
  /** Ciphers and key-exchange groups; default: defaultTlsPolicy() (ECDHE with AEAD under TLS 1.2). */
  tls?: TlsPolicy;
}): Promise<RunningEnrolmentServer> {
  const log = options.log.child({ part: "enrol" });
  const limits = options.connections ?? CONNECTION_DEFAULTS.enrolConnections;
  // The whole context, ciphers included, every time: setSecureContext replaces all of it.
  const contextOptions = (certificate: IssuedCertificate) => ({ ...tlsPolicyOptions(options.tls), key: certificate.keyPem, cert: certificate.chainPem });
  const server = https.createServer({ ...contextOptions(options.certificate), minVersion: "TLSv1.2", handshakeTimeout: limits.handshakeMs }, enrolmentRequestHandler(options.service, log));
  const connectionPolicy = applyHttpsConnectionPolicy(server, limits, {
    log,
    listener: "enrol",
    onOtherHandshakeError: (error, _socket, remote) => log.info({ remote, error: error.code ?? "handshake-failed" }, "refused a handshake"),
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.listen.host, port, serial: options.certificate.serialHex }, "enrolment endpoint listening");
  return {
    port,
    setCertificate: (certificate) => server.setSecureContext(contextOptions(certificate)),
    stop: async () => {
      connectionPolicy.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
