// The shape of a Moat config file, as users write it (YAML or JSON). Cross-references are checked in references.ts, defaults applied in normalise.ts.

import { z } from "zod";
import { behaviorCache, cacheStorage } from "./cache-schema.ts";
import { closedObject } from "./closed-object.ts";
import { HTTP_METHODS, KEY_ALGORITHMS, LIMITS, TLS_VERSIONS, UNDERSCORE_HEADERS } from "./defaults.ts";
import * as field from "./fields.ts";
import { accessLog, logSection } from "./log-schema.ts";
import { metricsSection } from "./metrics-schema.ts";
import { tracingSection } from "./tracing-schema.ts";
import { describeValue } from "./issues.ts";
import { parseOriginUrl } from "./origin-url.ts";
import { behaviorViewerMtls, trustStores, viewerMtls } from "./viewer-mtls-schema.ts";
// Directly, not through tls/index.ts (which loads the PKI, which loads config): a node:tls-only module.
import { cipherListProblem, cipherProblem, groupListProblem } from "../tls/cipher-policy.ts";

const CERTIFICATE_FORMS = "{ issuedBy: moat }, an imported { cert, key, passphraseFile? }, an imported { pkcs12, passphraseFile? } or { imported: NAME }";

/**
 * `{ issuedBy: moat }` (Moat's CA issues and rotates it), or imported from another CA: `{ cert, key }`
 * (PEM chain, leaf first, and its key) or `{ pkcs12 }` (a .p12/.pfx file), either with an optional
 * `passphraseFile` holding the passphrase of an encrypted key or of the PKCS#12; or `{ imported: NAME }`, one
 * imported into the data directory through the admin API (its key sealed under the master key).
 */
const certificateSource = closedObject({
  issuedBy: z.literal("moat").optional(),
  imported: field.id.optional(),
  cert: field.filePath.optional(),
  key: field.filePath.optional(),
  pkcs12: field.filePath.optional(),
  passphraseFile: field.filePath.optional(),
}).superRefine((source, ctx) => {
  const problem = certificateSourceProblem(source);
  if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message, input: source });
});

/** The one thing wrong with the combination of keys (each key's own value is checked by its schema), or null. */
function certificateSourceProblem(source: {
  issuedBy?: "moat";
  imported?: string;
  cert?: string;
  key?: string;
  pkcs12?: string;
  passphraseFile?: string;
}): { path: string[]; message: string } | null {
  if (source.imported !== undefined) {
    const others = (["issuedBy", "cert", "key", "pkcs12", "passphraseFile"] as const).filter((key) => source[key] !== undefined);
    return others.length === 0 ? null : { path: [], message: `imported names a certificate imported through the admin API: give it alone, without ${others.join(", ")}` };
  }
  const isPem = source.cert !== undefined || source.key !== undefined;
  const isPkcs12 = source.pkcs12 !== undefined;
  const isImported = isPem || isPkcs12 || source.passphraseFile !== undefined;
  if (source.issuedBy !== undefined && isImported) return { path: [], message: `must be ${CERTIFICATE_FORMS}, not both` };
  if (source.issuedBy !== undefined) return null;
  if (!isImported) return { path: [], message: `must be ${CERTIFICATE_FORMS}` };
  if (isPem && isPkcs12) {
    return { path: ["pkcs12"], message: "a PKCS#12 holds the certificate and its key: give either pkcs12, or cert and key, not both" };
  }
  if (isPkcs12) return null;
  if (!isPem) return { path: [], message: `passphraseFile opens an imported key: must be ${CERTIFICATE_FORMS}` };
  if (source.cert === undefined) return { path: ["cert"], message: "required with key (the certificate chain, PEM)" };
  if (source.key === undefined) return { path: ["key"], message: "required with cert (the private key, PEM)" };
  return null;
}

export type CertificateSourceDocument = z.output<typeof certificateSource>;

const pki = closedObject({
  trustDomain: field.trustDomain.optional(),
  keyAlgorithm: z.enum(KEY_ALGORITHMS).optional(),
  clientCertValidity: field.duration(LIMITS.clientCertValidityMs).optional(),
  serverCertValidity: field.duration(LIMITS.serverCertValidityMs).optional(),
  renewAtFraction: z
    .number({ error: (issue) => `must be a number between ${LIMITS.renewAtFraction.min} and ${LIMITS.renewAtFraction.max} (got ${JSON.stringify(issue.input)})` })
    .min(LIMITS.renewAtFraction.min, { error: `must be at least ${LIMITS.renewAtFraction.min}: renewing earlier wastes keys` })
    .max(LIMITS.renewAtFraction.max, { error: `must be at most ${LIMITS.renewAtFraction.max}: later leaves no time to retry a failed renewal` })
    .optional(),
  masterKeyFile: field.filePath.optional(),
  ca: closedObject({
    autoRotate: z.boolean({ error: "must be true or false" }).optional(),
    intermediateValidity: field.duration(LIMITS.intermediateValidityMs).optional(),
    rootValidity: field.duration(LIMITS.rootValidityMs).optional(),
    rolloverOverlap: field.duration(LIMITS.rolloverOverlapMs).optional(),
  }).optional(),
});

/**
 * The viewer port's TLS: one cipher list and one group list for the whole listener, since OpenSSL
 * keeps the listener's when SNI swaps in a distribution's context. Read at start.
 */
const listenerTls = closedObject({
  ciphers: field.uniqueList(field.checkedString(cipherProblem)).min(1).superRefine((ciphers, ctx) => {
    const problem = ciphers.every((name) => cipherProblem(name) === null) ? cipherListProblem(ciphers) : null;
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: ciphers });
  }).optional(),
  ecdhCurves: field.uniqueList(field.checkedString((group) => groupListProblem([group]))).min(1).optional(),
});

const listen = closedObject({
  host: field.listenHost.optional(),
  https: field.port.optional(),
  http: field.optionalPort.optional(),
  tls: listenerTls.optional(),
});

/** Viewer connections on the HTTPS port: deadlines for one that does not speak, and caps (see ConnectionsConfig). */
const connections = closedObject({
  timeouts: closedObject({
    handshake: field.duration(LIMITS.connectionTimeoutMs).optional(),
    firstByte: field.duration(LIMITS.connectionTimeoutMs).optional(),
    requestHead: field.duration(LIMITS.connectionTimeoutMs).optional(),
    idle: field.duration(LIMITS.connectionTimeoutMs).optional(),
    stalled: field.duration(LIMITS.connectionTimeoutMs).optional(),
  }).optional(),
  max: closedObject({
    total: field.count(LIMITS.connectionCount).optional(),
    perAddress: field.count(LIMITS.connectionCount).optional(),
  }).optional(),
});

const tls = closedObject({
  minVersion: z.enum(TLS_VERSIONS).optional(),
});

const originMtls = closedObject({
  clientCertificate: z
    .union([z.literal("none"), certificateSource], {
      error: () => `must be none (the origin takes no client certificate), ${CERTIFICATE_FORMS}`,
    })
    .optional(),
  trustedCa: field.filePath.optional(),
  serverName: field.serverName.optional(),
});

const origin = closedObject({
  id: field.id,
  url: field.originUrl,
  mtls: originMtls.optional(),
  timeouts: closedObject({
    connect: field.duration(LIMITS.timeoutMs).optional(),
    response: field.duration(LIMITS.timeoutMs).optional(),
  }).optional(),
});

const originGroup = closedObject({
  id: field.id,
  members: field.uniqueList(z.string().min(1)).length(2, {
    error: (issue) => `must list exactly 2 origins, primary then secondary (got ${Array.isArray(issue.input) ? issue.input.length : 0})`,
  }),
  failoverOn: field.uniqueList(field.statusCode).optional(),
});

const behavior = closedObject({
  path: field.checkedString((path) => (path === "*" || path.startsWith("/") ? field.urlPathProblem(path) : 'must be "*" or start with "/"')),
  target: z.string().min(1),
  allowedMethods: field
    .uniqueList(z.enum(HTTP_METHODS))
    .refine((methods) => methods.includes("GET") && methods.includes("HEAD"), {
      error: "must include GET and HEAD, which every behavior serves",
    })
    .optional(),
  cache: behaviorCache.optional(),
  viewerMtls: behaviorViewerMtls.optional(),
  websocket: z
    .union([z.boolean(), closedObject({ idleTimeout: field.duration(LIMITS.websocketIdleTimeoutMs).optional(), maxLifetime: field.duration(LIMITS.websocketMaxLifetimeMs).optional() })], {
      error: (issue) => `must be true, false, or { idleTimeout, maxLifetime } (got ${describeValue(issue.input)})`,
    })
    .optional(),
});

/**
 * `shield: { url, serverName?, trustedCa? }`: the origin shield (a parent tier of Moat edges) this distribution's
 * edge fetches from instead of its origins; the shield serves the same distribution and fetches from the origins.
 */
const shield = closedObject({
  url: field.checkedString((url) => {
    const parsed = parseOriginUrl(url);
    if (!parsed.ok) return parsed.problem;
    return parsed.url.basePath === "" ? null : "must be the shield's https://host:port, without a path (the shield adds each origin's own base path)";
  }),
  serverName: field.serverName.optional(),
  trustedCa: field.filePath.optional(),
});

const distribution = closedObject({
  id: field.id,
  // Every alias is a name in the viewer certificate: CloudFront's limit, and about what a CA puts in one certificate.
  aliases: z.array(field.alias).min(1).max(LIMITS.aliasesPerDistribution),
  viewerCertificate: certificateSource.optional(),
  tls: tls.optional(),
  viewerMtls: viewerMtls.optional(),
  underscoreHeaders: z.enum(UNDERSCORE_HEADERS).optional(),
  /** This distribution's access log; the `log.accessLog` setting when absent. */
  accessLog: accessLog.optional(),
  origins: z.array(origin).min(1).max(LIMITS.originsPerDistribution),
  originGroups: z.array(originGroup).max(LIMITS.originsPerDistribution).optional(),
  behaviors: z.array(behavior).max(LIMITS.behaviorsPerDistribution).optional(),
  shield: shield.optional(),
});

function workersError(issue: { input?: unknown }): string {
  return `must be auto (one worker per core) or a whole number between ${LIMITS.workers.min} and ${LIMITS.workers.max} (got ${describeValue(issue.input)})`;
}

/** The whole document. Later issues add keys here (caching, viewer mTLS, trust stores, admin port). */
export const configSchema = closedObject({
  dataDir: field.filePath.optional(),
  pki: pki.optional(),
  listen: listen.optional(),
  log: logSection.optional(),
  /** The Prometheus endpoint: off unless `listen` is set (or `moat start --metrics`). Read at start. */
  metrics: metricsSection.optional(),
  /** OpenTelemetry export of request spans: off unless present. Read at every reload. */
  tracing: tracingSection.optional(),
  connections: connections.optional(),
  cache: cacheStorage.optional(),
  trustStores: trustStores.optional(),
  /** `auto` (one per core) or a count: processes serving the viewer ports of `moat start`. Read at start. */
  workers: z
    .union([z.literal("auto"), z.number({ error: workersError }).int({ error: workersError }).min(LIMITS.workers.min, { error: workersError }).max(LIMITS.workers.max, { error: workersError })], {
      error: workersError,
    })
    .optional(),
  distributions: z.array(distribution).min(1),
});

export type ConfigDocument = z.output<typeof configSchema>;
export type DistributionDocument = ConfigDocument["distributions"][number];
export type OriginDocument = DistributionDocument["origins"][number];
