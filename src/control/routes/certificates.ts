// Certificates over the API: list and read from the store (every edge's, public parts only, never a key), import one from another CA, rotate an issued one now, revoke one.
import { z } from "zod";
import { closedObject, idSchema } from "../../config/index.ts";
import { ApiNotFoundError, ApiRequestInvalidError } from "../../errors.ts";
import {
  expiryWarning,
  listCertificates,
  openCertificateAuthority,
  parseRevocationReason,
  parseSerialHex,
  requestLeafRotation,
  REVOCATION_REASONS,
  DEFAULT_CA_ROTATION_POLICY,
  renewsAt,
  revokeAndPublishCrl,
  storeImportedCertificate,
} from "../../pki/index.ts";
import type { InventoryEntry } from "../../pki/index.ts";
import type { Store, StoredCertificate, StoredCertificateUse } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { certificateEvent, crlPublishedEvent, revocationEvent } from "../audit-events.ts";
import { actorOf } from "../auth.ts";
import type { DataDirAccess } from "./pki-context.ts";
import { requireDataDir } from "./pki-context.ts";

const TAG = "Certificates";
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;

const usedBySchema = z.strictObject({
  distribution: z.string().optional(),
  origin: z.string().optional(),
  as: z.enum(["viewer-server", "origin-client", "ca"]),
});

export const certificateSchema = z
  .strictObject({
    serialHex: z.string().meta({ description: "Lower-case hex, as `moat certs list` prints it" }),
    use: z.enum(["root-ca", "intermediate-ca", "viewer-server", "origin-client"]),
    name: z.string().meta({ description: "What it is for: viewer-shop, shop/api, root…" }),
    source: z.enum(["issued", "imported"]),
    state: z.enum(["active", "next", "retired", "expired", "not-yet-valid", "revoked"]),
    subject: z.string(),
    sans: z.array(z.string()).meta({ description: "DNS:…, IP:…, URI:spiffe://… (an origin client certificate's SPIFFE ID)" }),
    spiffeId: z.string().nullable(),
    issuer: z.string(),
    notBefore: z.string(),
    notAfter: z.string(),
    renewsAt: z
      .string()
      .nullable()
      .meta({
        description:
          "When Moat renews it: notBefore + life × (pki.renewAtFraction − a jitter of up to 10 % of the life, from its serial), as the edge that holds it computes it (the CA's own: when the CA renews or prepares its rollover). Null for an imported certificate (renewed where it came from) and for a retired, revoked or expired one. A time in the past: due, done at the holding edge's next check",
      }),
    fingerprint256: z.string().meta({ description: "SHA-256 of the DER, colon-separated hex" }),
    edge: z.string().nullable().meta({ description: "The edge that holds it (its --edge-name); null for the CA's own certificates, which the edges on one CA share" }),
    usedBy: z.array(usedBySchema).meta({ description: "Where Moat uses it, as its name says (a distribution's viewer certificate, an origin's client certificate, the CA)" }),
    expiryWarning: z.strictObject({ thresholdDays: z.int(), daysLeft: z.int() }).nullable(),
    revokedAt: z.string().optional(),
    revocationReason: z.string().optional(),
  })
  .meta({ title: "Certificate" });

type Certificate = z.output<typeof certificateSchema>;

type Uses = Certificate["usedBy"];

/** Which distributions name each certificate imported through the API (`{ imported: NAME }`), by use and name. */
async function importedUses(store: Store): Promise<Map<string, Uses>> {
  const uses = new Map<string, Uses>();
  const add = (key: string, use: Uses[number]) => uses.set(key, [...(uses.get(key) ?? []), use]);
  const named = (source: unknown) => (typeof source === "object" && source !== null && typeof (source as { imported?: unknown }).imported === "string" ? (source as { imported: string }).imported : undefined);
  for (const resource of (await store.read()).resources) {
    if (resource.kind !== "distribution") continue;
    const document = resource.document as { viewerCertificate?: unknown; origins?: { id?: string; mtls?: { clientCertificate?: unknown } }[] };
    const viewer = named(document.viewerCertificate);
    if (viewer) add(`viewer-server/${viewer}`, { as: "viewer-server", distribution: resource.name });
    for (const origin of document.origins ?? []) {
      const client = named(origin.mtls?.clientCertificate);
      if (client) add(`origin-client/${client}`, { as: "origin-client", distribution: resource.name, ...(origin.id ? { origin: origin.id } : {}) });
    }
  }
  return uses;
}

/**
 * Where a certificate is used: for one Moat issued, read from the name the store keeps it under (`viewer-<distribution>`,
 * `<distribution>/<origin>`); for one imported through the API, the distributions that name it.
 */
function usedBy(entry: Pick<InventoryEntry, "use" | "source" | "name">, imported: ReadonlyMap<string, Uses>): Uses {
  if (entry.use === "root-ca" || entry.use === "intermediate-ca") return [{ as: "ca" }];
  if (entry.source === "imported") return imported.get(`${entry.use}/${entry.name}`) ?? [];
  if (entry.use === "origin-client") {
    const [distribution, origin] = entry.name.split("/");
    return [{ as: "origin-client", ...(distribution ? { distribution } : {}), ...(origin ? { origin } : {}) }];
  }
  return entry.name.startsWith("viewer-") ? [{ as: "viewer-server", distribution: entry.name.slice("viewer-".length) }] : [{ as: "viewer-server" }];
}

/** What a certificate's answer is made from: an inventory entry of this API's data directory, or a store's record (with its edge). */
type CertificateSource = Omit<InventoryEntry, "file"> & { edge: string | null };

/** A record of the store as the answers show one: its state at `now`, and the expiry warning of an imported certificate. */
function fromStore(stored: StoredCertificate, now: Date): CertificateSource {
  return { ...stored, sans: [...stored.sans], expiryWarning: stored.source === "imported" && stored.state !== "revoked" ? expiryWarning(stored.notAfter, now) : null };
}

/** An entry of this API's data directory, held by its edge (the CA's own by none). */
function fromInventory(entry: InventoryEntry, edge: string | undefined): CertificateSource {
  return { ...entry, edge: entry.use === "root-ca" || entry.use === "intermediate-ca" ? null : (edge ?? null) };
}

/** The public parts only: no file path (the data directory's layout is not the client's business), no PEM, never a key. */
export function certificateBody(entry: CertificateSource, imported: ReadonlyMap<string, Uses> = new Map(), renewAtFraction: number = DEFAULT_CA_ROTATION_POLICY.renewAtFraction): Certificate {
  const renewal = renewsAt(entry, renewAtFraction);
  const uri = entry.sans.find((san) => san.startsWith("URI:"));
  return {
    serialHex: entry.serialHex,
    use: entry.use,
    name: entry.name,
    source: entry.source,
    state: entry.state,
    subject: entry.subject,
    sans: [...entry.sans],
    spiffeId: uri ? uri.slice("URI:".length) : null,
    issuer: entry.issuer,
    notBefore: entry.notBefore.toISOString(),
    notAfter: entry.notAfter.toISOString(),
    renewsAt: renewal ? renewal.toISOString() : null,
    fingerprint256: entry.fingerprint256,
    edge: entry.edge,
    usedBy: usedBy(entry, imported),
    expiryWarning: entry.expiryWarning,
    ...(entry.revokedAt ? { revokedAt: entry.revokedAt.toISOString() } : {}),
    ...(entry.revocationReason ? { revocationReason: entry.revocationReason } : {}),
  };
}

/** `4A:0B:FF` or `4a0bff` → `4a0bff`; anything else is a 400 naming the path parameter. */
function serialParam(text: string): string {
  try {
    return parseSerialHex(text);
  } catch (error) {
    throw new ApiRequestInvalidError("the path", [{ path: "serial", message: (error as Error).message }]);
  }
}

const listQuery = closedObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many items (default ${DEFAULT_PAGE})` }),
  cursor: z.string().min(1).optional().meta({ description: "The nextCursor of the previous page" }),
  distribution: idSchema.optional().meta({ description: "Only the certificates this distribution uses (its viewer certificate, its origins' client certificates)" }),
  state: z.enum(["active", "next", "retired", "expired", "not-yet-valid", "revoked"]).optional(),
  use: z.enum(["root-ca", "intermediate-ca", "viewer-server", "origin-client"]).optional(),
  source: z.enum(["issued", "imported"]).optional(),
  edge: z.string().min(1).max(253).optional().meta({ description: "Only the certificates this edge holds (by its --edge-name); the CA's own are held by none" }),
});

const serialParams = closedObject({ serial: z.string().min(1).max(64).meta({ description: "The serial in hex (colons allowed)" }) });

const importBody = closedObject({
  name: idSchema.meta({ description: "What it is for (shop-ev): a distribution serves it with viewerCertificate (or an origin's mtls.clientCertificate) { imported: NAME }; importing again under it replaces the one in use" }),
  use: z.enum(["viewer-server", "origin-client"]).meta({ description: "A viewer-facing server certificate, or the edge's client certificate towards an origin" }),
  chainPem: z.string().min(1).max(256 * 1024).meta({ description: "PEM: the leaf first, then its intermediates (a root at the end is dropped)" }),
  keyPem: z.string().min(1).max(64 * 1024).meta({ description: "PEM: PKCS#8, PKCS#1 or SEC1, encrypted PKCS#8 with passphrase; stored sealed under the master key, never answered" }),
  passphrase: z.string().min(1).max(1024).optional().meta({ description: "For an encrypted key" }),
  distribution: idSchema.optional().meta({ description: "For a viewer certificate: the distribution whose aliases its SANs must cover" }),
});

const revokeBody = closedObject({
  reason: z.string().meta({ description: `One of ${REVOCATION_REASONS.join(", ")} (RFC 5280 §5.3.1)` }),
});

export function certificateRoutes(store: Store, now: () => Date, access: DataDirAccess | undefined): ApiRoute[] {
  // The config's pki.renewAtFraction, as the edge beside the API runs by (a fleet's edges share the store's config).
  const renewAtFraction = access?.caRotationPolicy?.renewAtFraction ?? DEFAULT_CA_ROTATION_POLICY.renewAtFraction;
  const what = "certificates";
  const records = access?.certificateRecords;
  const readOne = async (dataDir: string, serialHex: string): Promise<InventoryEntry> => {
    const entry = (await listCertificates({ dataDir, now: now() })).find((candidate) => candidate.serialHex === serialHex);
    if (!entry) throw new ApiNotFoundError(`certificate ${serialHex}`);
    return entry;
  };
  return [
    defineRoute({
      method: "GET",
      url: "/certificates",
      operationId: "listCertificates",
      summary: "Every certificate Moat holds (its CA, the leaves it issued, those imported through the API), in serial order; never a key",
      tag: TAG,
      role: "viewer",
      query: listQuery,
      responses: { 200: { description: "A page of certificates", schema: z.strictObject({ items: z.array(certificateSchema), nextCursor: z.string().optional() }) } },
      async handler({ query }) {
        const imported = await importedUses(store);
        const at = now();
        const page = await store.certificates.list({
          limit: query.limit ?? DEFAULT_PAGE,
          now: at,
          ...(query.cursor === undefined ? {} : { after: query.cursor }),
          ...(query.state === undefined ? {} : { state: query.state }),
          ...(query.use === undefined ? {} : { use: query.use }),
          ...(query.source === undefined ? {} : { source: query.source }),
          ...(query.edge === undefined ? {} : { edge: query.edge }),
          ...(query.distribution === undefined ? {} : { distribution: { id: query.distribution, imported: importedBy(imported, query.distribution) } }),
        });
        return { status: 200, body: { items: page.items.map((item) => certificateBody(fromStore(item, at), imported, renewAtFraction)), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/certificates/:serial",
      operationId: "getCertificate",
      summary: "One certificate's public parts: names, SPIFFE ID, issuer, validity, fingerprint, state, where it is used",
      tag: TAG,
      role: "viewer",
      params: serialParams,
      responses: { 200: { description: "The certificate", schema: certificateSchema } },
      async handler({ params }) {
        const serialHex = serialParam(params.serial);
        const at = now();
        const stored = await store.certificates.get(serialHex, at);
        if (!stored) throw new ApiNotFoundError(`certificate ${serialHex}`);
        return { status: 200, body: certificateBody(fromStore(stored, at), stored.source === "imported" ? await importedUses(store) : new Map(), renewAtFraction) };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/certificates",
      operationId: "importCertificate",
      summary: "Import a certificate from another CA (PEM chain and key): every check a TLS peer would make first; refused, nothing is stored",
      tag: TAG,
      role: "admin",
      body: importBody,
      responses: { 201: { description: "Imported: the certificate as listed (its key is stored sealed, never answered)", schema: certificateSchema, headers: ["Location"] } },
      async handler({ body, identity }) {
        const { dataDir, masterKey } = requireDataDir(access, what);
        let expectedNames: readonly string[] = [];
        if (body.distribution !== undefined) {
          const distribution = await store.get("distribution", body.distribution);
          if (!distribution) throw new ApiRequestInvalidError("the request body", [{ path: "distribution", message: `no distribution "${body.distribution}" in the store`, pointer: "/distribution" }]);
          expectedNames = body.use === "viewer-server" ? (((distribution.document as { aliases?: string[] }).aliases ?? []) as string[]) : [];
        }
        const { certificate } = await storeImportedCertificate({
          dataDir,
          masterKey,
          name: body.name,
          use: body.use,
          chainPem: body.chainPem,
          keyPem: body.keyPem,
          ...(body.passphrase === undefined ? {} : { passphrase: body.passphrase }),
          expectedNames,
          now: now(),
        });
        // After the files are durable: a record says a change happened (a failure to record answers 500 and is logged).
        await store.audit.record(certificateEvent(actorOf(identity), "certificate.import", certificate, { use: body.use, ...(body.distribution === undefined ? {} : { distribution: body.distribution }) }));
        // The store's records follow at once (bounded; an outage is logged by the recorder, and retried at the edge's next event).
        await records?.sync();
        const answer = certificateBody(fromInventory(await readOne(dataDir, certificate.serialHex), records?.edge), await importedUses(store), renewAtFraction);
        return { status: 201, body: answer, headers: { location: `/certificates/${certificate.serialHex}` } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/certificates/:serial/rotate",
      operationId: "rotateCertificate",
      summary: "Replace a certificate Moat issued, now: the running edge re-issues it and presents the new one (asking twice is one request)",
      tag: TAG,
      role: "operator",
      params: serialParams,
      responses: {
        202: {
          description: "Asked: the edge re-issues it at once; GET /certificates?distribution= shows the new one active",
          schema: z.strictObject({ certificate: certificateSchema, requestedAt: z.string(), wasAlreadyRequested: z.boolean() }),
        },
        409: { description: "Not a certificate Moat can rotate: imported, the CA's own, or not the one in use" },
      },
      async handler({ params, identity }) {
        const { dataDir } = requireDataDir(access, what);
        const { certificate, request, wasAlreadyRequested } = await requestLeafRotation({ dataDir, serialHex: serialParam(params.serial), now: now() });
        // The request is the operator's act; the edge's re-issue that follows is the edge's.
        if (!wasAlreadyRequested) {
          await store.audit.record({
            actor: actorOf(identity),
            action: "certificate.rotate-request",
            resource: `certificate/${certificate.serialHex}`,
            after: { serialHex: certificate.serialHex, requestedAt: request.requestedAt.toISOString() },
          });
        }
        return { status: 202, body: { certificate: certificateBody(fromInventory(certificate, access?.certificateRecords?.edge), new Map(), renewAtFraction), requestedAt: request.requestedAt.toISOString(), wasAlreadyRequested } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/certificates/:serial/revoke",
      operationId: "revokeCertificate",
      summary: "Revoke a certificate (final): recorded, in a fresh CRL at once; a running edge replaces it if in use",
      tag: TAG,
      role: "admin",
      params: serialParams,
      body: revokeBody,
      responses: {
        200: {
          description: "Revoked (or it already was: nothing changed, the first reason stays)",
          schema: z.strictObject({
            revocation: z.strictObject({ serialHex: z.string(), reason: z.string(), revokedAt: z.string() }),
            wasAlreadyRevoked: z.boolean(),
            isKnown: z.boolean().meta({ description: "Whether Moat holds a certificate with this serial (it is revoked either way)" }),
            crl: z.strictObject({ crlNumber: z.int(), thisUpdate: z.string(), nextUpdate: z.string(), revokedSerials: z.array(z.string()) }),
          }),
        },
      },
      async handler({ params, body, identity }) {
        const { dataDir, masterKey } = requireDataDir(access, what);
        const serialHex = serialParam(params.serial);
        let reason;
        try {
          reason = parseRevocationReason(body.reason);
        } catch (error) {
          throw new ApiRequestInvalidError("the request body", [{ path: "reason", message: (error as Error).message, pointer: "/reason" }]);
        }
        // Opened now, not kept: the CA may have rotated since the API started.
        const ca = await openCertificateAuthority({ dataDir, masterKey });
        const result = await revokeAndPublishCrl({ dataDir, serialHex, reason, ca, masterKey });
        const { revocation, crl } = result;
        const actor = actorOf(identity);
        const revoked = revocationEvent(actor, result);
        if (revoked) await store.audit.record(revoked);
        if (result.isNewCrl) await store.audit.record(crlPublishedEvent(actor, crl));
        await access?.certificateRecords?.sync();
        return {
          status: 200,
          body: {
            revocation: { serialHex: revocation.serialHex, reason: revocation.reason, revokedAt: revocation.revokedAt.toISOString() },
            wasAlreadyRevoked: result.wasAlreadyRevoked,
            isKnown: result.storedAt.length > 0,
            crl: { crlNumber: crl.crlNumber, thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString(), revokedSerials: crl.revokedSerials },
          },
        };
      },
    }),
  ];
}

/** The imported certificates (by use and name) a distribution names: what `?distribution=` adds to those issued for it. */
function importedBy(imported: ReadonlyMap<string, Uses>, distribution: string): { use: StoredCertificateUse; name: string }[] {
  return [...imported]
    .filter(([, uses]) => uses.some((use) => use.distribution === distribution))
    .map(([key]) => {
      const slash = key.indexOf("/");
      return { use: key.slice(0, slash) as StoredCertificateUse, name: key.slice(slash + 1) };
    });
}
