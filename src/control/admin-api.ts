// The admin API server: Fastify on its own TLS 1.3 port, a server certificate from Moat's CA, every request authenticated, authorised by role, bounded in size and time.
import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import Fastify, { LogController } from "fastify";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { ApiCrossSiteRequestError, ApiForbiddenError, ApiRequestInvalidError, ListenError } from "../errors.ts";
import type { CertificateAuthority, IssuedCertificate } from "../pki/index.ts";
import { keepServerCertificate, serverCertificateNames } from "./server-certificate.ts";
import type { ApiRole, Store } from "../store/index.ts";
import { parseRequestPart } from "./api-route.ts";
import type { ApiRoute } from "./api-route.ts";
import { AuthRefusal, authenticate, describeIdentity, isRoleAllowed } from "./auth.ts";
import type { ApiIdentity } from "./auth.ts";
import { buildOpenApiDocument } from "./openapi.ts";
import { PROBLEM_CONTENT_TYPE, toProblem } from "./problem.ts";
import { adminApiRoutes } from "./routes/index.ts";
import { resolveEdgeName } from "../config/index.ts";
import { MOAT_VERSION } from "../observe/index.ts";
import { createCertificateRecorder } from "./certificate-records.ts";
import type { CertificateRecorder } from "./certificate-records.ts";
import type { DataDirAccess, TrafficSource } from "./routes/index.ts";
import { CONSOLE_BUILD_DIR, CONSOLE_PATH, createConsoleSite, loadConsoleFiles } from "./console-assets.ts";
import { applyHttpsConnectionPolicy } from "../connections/index.ts";
import type { ConnectionLimits } from "../connections/index.ts";

export const ADMIN_API_DEFAULTS = Object.freeze({
  host: "127.0.0.1",
  port: 8444,
  trustDomain: "moat.internal",
  bodyLimitBytes: 1024 * 1024,
  /** Every request, from its first byte to its answer (a slow body, a store that does not answer). */
  deadlineMs: 10_000,
  /** The API's own server certificate; renewed at two thirds of it, without a restart. */
  serverCertificateValidityMs: 30 * 86_400_000,
  /**
   * Connections, as the edge's and the enrolment endpoint's listeners cap theirs: a peer that never sends a
   * ClientHello, or no request after it, is closed within seconds (Node's handshake timeout alone is 120 s), and one
   * address cannot hold more than its share of the process's descriptors (a browser opens 6, the CLI one).
   */
  connections: { handshakeMs: 10_000, firstByteMs: 10_000, requestHeadMs: 10_000, idleMs: 5_000, maxConnections: 1_024, maxConnectionsPerAddress: 64 } satisfies ConnectionLimits as ConnectionLimits,
});

/**
 * On every answer that is not one of the console's files (which carry their own, CONSOLE_CSP): JSON, PEM and problems
 * are never a document, so nothing is loaded, run, framed or sniffed from one, and no URL leaks in a Referer.
 */
const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

export interface AdminApiOptions {
  store: Store;
  /**
   * Issues the API's server certificate; its bundle (and intermediates) verify admin client certificates. The CA
   * at start: after a rotation, `useCa` gives the API the new one.
   */
  ca: CertificateAuthority;
  listen?: { host?: string; port?: number };
  logger: Logger;
  /** The trust domain of admin client certificates' SPIFFE IDs (`pki.trustDomain`). */
  trustDomain?: string;
  /** Names in the API's server certificate besides `localhost` and the listen address (a DNS name clients use). */
  serverNames?: { dnsNames?: readonly string[]; ipAddresses?: readonly string[] };
  bodyLimitBytes?: number;
  deadlineMs?: number;
  /** Deadlines and caps of its connections; default ADMIN_API_DEFAULTS.connections. */
  connections?: ConnectionLimits;
  clock?: () => Date;
  /**
   * Whether Moat's CA revoked a certificate (by serial, lower-case hex): an admin certificate it names is refused
   * from the next request on. Without it, admin certificates are not checked for revocation: keep them short-lived.
   */
  isRevoked?: (serialHex: string) => boolean | Promise<boolean>;
  /**
   * Moat's data directory and master key, for the certificate, CA and invalidation routes (they change what the edge
   * beside the API watches there). Without it those routes answer 503 api-data-dir-unavailable.
   */
  dataDir?: DataDirAccess;
  /**
   * With `dataDir`: the recorder of the edge beside the API (`moat start --store … --api …`), so that the API's syncs
   * queue with the edge's under its name. Without it the API makes its own, for the edge `edgeName`, and syncs at start.
   */
  certificateRecords?: CertificateRecorder;
  /** The edge whose data directory `dataDir` is, as the store names it (`--edge-name`); default MOAT_EDGE_NAME, else the host name. */
  edgeName?: string;
  /**
   * The web console under /console/: the directory of its build (default the package's dist/console, which
   * `npm run console:build` makes), or false for none. Unbuilt, /console/ answers 503 console-not-built.
   */
  consoleDir?: string | false;
  /** The metrics of the edge beside the API, for GET /traffic; without it /traffic answers 503 traffic-unavailable. */
  traffic?: TrafficSource;
}

export interface AdminApi {
  host: string;
  port: number;
  /** `https://127.0.0.1:8444` */
  url: string;
  /** The routes it serves, as the OpenAPI document lists them. */
  routes: readonly ApiRoute[];
  /**
   * The CA rotated (a renewed intermediate, a new root): the API takes a server certificate from it and verifies
   * admin client certificates against its bundle from the next connection on, without a restart.
   */
  useCa(next: CertificateAuthority): Promise<void>;
  close(): Promise<void>;
}

/** Who a request was refused for, kept from onRequest to the error handler's log line. */
const refusedAs = new WeakMap<FastifyRequest, string>();
const identities = new WeakMap<FastifyRequest, ApiIdentity>();

/**
 * Starts the admin API and resolves once it listens.
 *
 * @example
 * const api = await startAdminApi({ store, ca, listen: { host: "127.0.0.1", port: 8444 }, logger });
 * // curl --cacert ca-bundle.pem -H "Authorization: Bearer $TOKEN" https://localhost:8444/distributions
 * await api.close();
 */
export async function startAdminApi(options: AdminApiOptions): Promise<AdminApi> {
  const settings = { ...ADMIN_API_DEFAULTS, ...options.listen, ...definedOnly({ trustDomain: options.trustDomain, bodyLimitBytes: options.bodyLimitBytes, deadlineMs: options.deadlineMs }) };
  const clock = options.clock ?? (() => new Date());
  const log = options.logger.child({ part: "admin-api" });
  let ca = options.ca;
  const certificate = await keepServerCertificate({
    ca: () => ca,
    names: serverCertificateNames(settings.host, options.serverNames),
    validityMs: ADMIN_API_DEFAULTS.serverCertificateValidityMs,
    clock,
    log,
  });
  // Moat's roots, and its intermediates so that a client which sends its leaf alone still verifies; only roots anchor.
  const clientCas = () => [ca.bundlePem, ca.intermediatePem, ...ca.previousIntermediatePems];
  const tlsOptions = (issued: IssuedCertificate) => ({ key: issued.keyPem, cert: issued.chainPem, ca: clientCas(), minVersion: "TLSv1.3" as const });

  const connectionLimits = options.connections ?? ADMIN_API_DEFAULTS.connections;
  const app = Fastify({
    https: { ...tlsOptions(certificate.current), requestCert: true, rejectUnauthorized: false, handshakeTimeout: connectionLimits.handshakeMs },
    bodyLimit: settings.bodyLimitBytes,
    handlerTimeout: settings.deadlineMs,
    requestTimeout: settings.deadlineMs,
    connectionTimeout: settings.deadlineMs,
    keepAliveTimeout: 5_000,
    forceCloseConnections: true,
    return503OnClosing: true,
    exposeHeadRoutes: false,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    loggerInstance: log,
    // One line per refusal is ours (with who and why); Fastify's per-request lines would only repeat it.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const connectionPolicy = applyHttpsConnectionPolicy(app.server as unknown as HttpsServer, connectionLimits, {
    log,
    listener: "admin-api",
    // A client certificate that does not verify is answered over HTTP (rejectUnauthorized: false); anything else is a TLS failure.
    onOtherHandshakeError: (error, _socket, remote) => log.info({ remote, error: error.code ?? "handshake-failed" }, "refused a handshake"),
  });
  // JSON only: a text/plain body is one a page on any site may send without asking first (a CORS "simple" request).
  app.removeContentTypeParser("text/plain");

  app.addHook("onRequest", async (request) => {
    // The console's own files: loading them needs no credentials (the sign-in form is one of them).
    if ((request.routeOptions.config as { isPublic?: boolean }).isPublic === true) return;
    // Fetch Metadata: a browser names the site of the page that made the request. It presents an admin certificate to
    // any page that makes it connect here, so only the API's own origin (the console) and non-browsers (no header) get in.
    const site = request.headers["sec-fetch-site"];
    if (typeof site === "string" && site !== "same-origin" && site !== "none") throw new ApiCrossSiteRequestError(`Sec-Fetch-Site: ${site}`);
    // Origin, for browsers that send no Fetch Metadata (Safari before 16.4): they still name the page's origin on every
    // cross-origin POST, a bodiless one (sendBeacon, fetch no-cors) too. Only the API's own origin may carry one.
    const origin = request.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, request.headers.host)) throw new ApiCrossSiteRequestError(`Origin: ${origin}`);
    identities.set(request, await admit(request, { tokens: options.store.tokens, trustDomain: settings.trustDomain, now: clock(), isRevoked: options.isRevoked }));
  });
  app.addHook("onSend", async (_request, reply) => {
    // Answers name config, tokens and certificates: none may be kept by a cache on the way.
    reply.header("cache-control", "no-store");
    if (!reply.hasHeader("content-security-policy")) reply.headers(API_SECURITY_HEADERS);
  });
  const limits = { bodyLimitBytes: settings.bodyLimitBytes, deadlineMs: settings.deadlineMs };
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply, { log, limits }));
  app.setNotFoundHandler((request, reply) => sendProblem({ code: "FST_ERR_NOT_FOUND", message: "no route" }, request, reply, { log, limits }));

  // Beside a data directory, the API keeps the store's records of its certificates (the edge's own recorder when it has one).
  let ownRecorder: CertificateRecorder | undefined;
  let dataDir = options.dataDir;
  if (dataDir && !dataDir.certificateRecords) {
    const recorder = options.certificateRecords ?? (ownRecorder = createCertificateRecorder({ store: options.store, edge: options.edgeName ?? resolveEdgeName(undefined), dataDir: dataDir.dataDir, log: log.child({ part: "certificate-records" }), now: clock }));
    dataDir = { ...dataDir, certificateRecords: recorder };
    if (ownRecorder) await ownRecorder.sync();
  }
  const { routes } = adminApiSurface(options.store, clock, dataDir, options.traffic);
  for (const route of routes) app.route({ method: route.method, url: route.url, config: { role: route.role }, handler: (request, reply) => serve(route, request, reply) });
  if (options.consoleDir !== false) {
    const consoleDir = options.consoleDir ?? CONSOLE_BUILD_DIR;
    const site = createConsoleSite(await loadConsoleFiles(consoleDir), consoleDir);
    // isPublic: the onRequest hook lets these through without credentials.
    app.get("/console", { config: { isPublic: true } }, async (_request, reply) => reply.redirect(CONSOLE_PATH, 308));
    app.get("/console/*", { config: { isPublic: true } }, async (request, reply) => {
      const file = site.serve((request.params as { "*": string })["*"]);
      return reply.code(200).headers(file.headers).send(file.body);
    });
  }

  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (error) {
    await app.close().catch(() => undefined);
    connectionPolicy.stop();
    ownRecorder?.stop();
    throw new ListenError("the admin API", settings.host, settings.port, error);
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : settings.port;
  // New connections get a renewed certificate and the CA's current bundle; open ones keep theirs.
  const swap = (next: IssuedCertificate) => (app.server as unknown as { setSecureContext(options: object): void }).setSecureContext(tlsOptions(next));
  certificate.start(swap);
  const host = settings.host;
  log.info({ host, port, url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`, serial: certificate.current.serialHex }, "admin API listening");
  return {
    host,
    port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    routes,
    useCa: async (next) => {
      if (next === ca) return;
      ca = next;
      await certificate.renewNow();
      // Whether or not a certificate came from the new CA, its bundle verifies admin client certificates from now on.
      swap(certificate.current);
    },
    close: async () => {
      certificate.stop();
      ownRecorder?.stop();
      await app.close();
      connectionPolicy.stop();
    },
  };
}

/**
 * The routes the API serves, /openapi.json among them, and the document that lists them all (itself included),
 * built once from the routes' own schemas. Building it calls no handler: the SDK's generator gives it a store it never opens.
 */
export function adminApiSurface(store: Store, clock: () => Date, dataDir?: DataDirAccess, traffic?: TrafficSource): { routes: ApiRoute[]; document: Record<string, unknown> } {
  let document: Record<string, unknown> = {};
  const routes = [...adminApiRoutes(store, clock, dataDir, traffic), openApiRoute(() => document)];
  document = buildOpenApiDocument(routes, { version: MOAT_VERSION });
  return { routes, document };
}

function openApiRoute(document: () => Record<string, unknown>): ApiRoute {
  return {
    method: "GET",
    url: "/openapi.json",
    operationId: "getOpenApiDocument",
    summary: "This API's OpenAPI 3.1 document, generated from the schemas its handlers validate with",
    tag: "API",
    role: "viewer",
    responses: { 200: { description: "The OpenAPI document" } },
    handler: async () => ({ status: 200, body: document() }),
  };
}

/** Authenticates the caller and checks its role against the route's; a refusal throws the error the caller gets. */
async function admit(request: FastifyRequest, context: Parameters<typeof authenticate>[1]): Promise<ApiIdentity> {
  const result = await authenticate({ headers: request.headers, socket: request.raw.socket as TLSSocket }, context);
  if (result instanceof AuthRefusal) {
    refusedAs.set(request, result.who);
    throw result.error;
  }
  refusedAs.set(request, describeIdentity(result));
  const least = (request.routeOptions.config as { role?: ApiRole }).role ?? "viewer";
  if (!isRoleAllowed(result.role, least)) {
    throw new ApiForbiddenError(describeIdentity(result), `the role ${result.role} may not ${request.method} ${request.routeOptions.url} (it needs ${least} or above)`);
  }
  return result;
}

/** Validates each part of the request with the route's schemas, runs its handler, and sends what it answers. */
async function serve(route: ApiRoute, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const result = await route.handler({
    params: route.params ? parseRequestPart(route.params, request.params, "path") : undefined,
    query: parseQuery(route, request.query as Record<string, unknown>),
    body: parseBody(route, request.body),
    sentBody: request.body,
    headers: request.headers,
    identity: identities.get(request) as ApiIdentity,
  });
  reply.code(result.status);
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  return reply.send(result.body);
}

/** Every failure leaves as problem details, logged with who asked and why it was refused. */
function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply, context: { log: Logger; limits: { bodyLimitBytes: number; deadlineMs: number } }) {
  const problem = toProblem(error, context.limits);
  const fields = { who: refusedAs.get(request) ?? "anonymous", method: request.method, url: request.url, status: problem.status, code: problem.code };
  if (problem.status === 401 || problem.status === 403) context.log.warn({ ...fields, reason: problem.detail }, "admin API request refused");
  else if (problem.code === "internal") context.log.error({ ...fields, err: error }, "admin API request failed");
  else context.log.info({ ...fields, reason: problem.detail }, "admin API request refused");
  if (problem.status === 401) reply.header("www-authenticate", 'Bearer realm="moat-admin"');
  return reply.code(problem.status).header("content-type", PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** Whether a browser's Origin header names this API's own origin (the console's): https, and the host and port the request was sent to. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || origin === "null") return false;
  try {
    const parsed = new URL(origin);
    return parsed.protocol === "https:" && parsed.host === new URL(`https://${host}`).host && parsed.origin === origin.toLowerCase().replace(/\/$/, "");
  } catch {
    return false;
  }
}

/** A route without a query schema takes no query: an unknown parameter is refused, not ignored. */
function parseQuery(route: ApiRoute, query: Record<string, unknown>): unknown {
  if (route.query) return parseRequestPart(route.query, query, "query");
  const unknown = Object.keys(query ?? {});
  if (unknown.length > 0) throw new ApiRequestInvalidError("the query string", unknown.map((name) => ({ path: name, message: "unknown key (this route takes no query parameters)" })));
  return undefined;
}

function parseBody(route: ApiRoute, body: unknown): unknown {
  if (route.body) return parseRequestPart(route.body, body, "body");
  if (body !== undefined) throw new ApiRequestInvalidError("the request body", [{ path: "", message: "this route takes no body" }]);
  return undefined;
}
