// The edges that run from the store: which revision each serves, since when, its last heartbeat, and its health (the store's one rule, edge-health.ts).
import { z } from "zod";
import { closedObject, parseDuration } from "../../config/index.ts";
import { EDGE_HEALTH_DEFAULTS } from "../../store/index.ts";
import type { EdgeFleet, Store, StoredCertificate } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";

/** A certificate expiring within this many days counts in `certificatesExpiringSoon`: soon enough that a renewal not yet done needs a look. */
const EXPIRING_SOON_DAYS = 7;

const edgeSchema = z
  .strictObject({
    name: z.string().meta({ description: "Its --edge-name (else MOAT_EDGE_NAME, else its host name)" }),
    region: z.string().nullable().meta({ description: "Its --region (else MOAT_EDGE_REGION); null when it gave none" }),
    revision: z.int().nullable().meta({ description: "The config revision it serves; null until it serves one from this store" }),
    servedAt: z.string().nullable().meta({ description: "When it started serving that revision (ISO 8601, UTC)" }),
    lastSeenAt: z.string().meta({ description: "Its last heartbeat: an edge writes one every heartbeatMs (10 s by default) while it reaches the store" }),
    heartbeatMs: z.int().nullable().meta({ description: "How often it writes its heartbeat; null for a row that does not say (10 s)" }),
    startedAt: z.string().meta({ description: "When its process started" }),
    version: z.string().meta({ description: "The Moat version it runs" }),
    health: z.enum(["ok", "behind", "stopped", "silent", "gone"]).meta({
      description:
        "gone: no heartbeat for 24 h; stopped: it stopped cleanly (SIGTERM) and said so, invalidations do not wait for it, its next start clears it; silent: no heartbeat for 3 of its heartbeat intervals (invalidations do not wait for it); behind: it serves an older revision than the newest, the first one it lacks committed more than maxLag ago; ok otherwise",
    }),
    behindRevisions: z.int().meta({ description: "How many revisions were committed after the one it serves (0: it serves the newest)" }),
    behindSince: z.string().nullable().meta({ description: "When the first revision it lacks was committed; null when it serves the newest" }),
    heartbeatAgeMs: z.int().meta({ description: "How long ago its last heartbeat was, by the API's clock" }),
    certificatesExpireAt: z.string().nullable().meta({ description: "The soonest notAfter among its active certificates (as its last sync recorded them); null when it holds none" }),
    certificatesExpiringSoon: z.int().meta({ description: `How many of its active certificates expire within ${EXPIRING_SOON_DAYS} days` }),
    certificates: z
      .array(z.strictObject({ use: z.string(), name: z.string(), serialHex: z.string(), notAfter: z.string() }))
      .meta({ description: "Its active certificates, soonest expiry first (the CA's own, shared by the fleet, are at GET /ca)" }),
    caTrust: z
      .strictObject({
        roots: z.array(z.string()).meta({ description: "SHA-256 of each root its bundle trusts (colon-separated hex)" }),
        intermediate: z.string().meta({ description: "SHA-256 of the intermediate it issues from" }),
      })
      .nullable()
      .meta({ description: "The CA it uses, as it last reported it (a root rollover's activation waits until every live edge trusts the new root); null: it reported none" }),
    stoppedAt: z.string().nullable().meta({ description: "When it stopped cleanly (its farewell at a SIGTERM drain); null while it runs" }),
    joinedAt: z.string().nullable().meta({ description: "When it joined with a join token (`moat edge join`: it holds no master key, the CA node signs its CSRs); null: it runs with the master key" }),
  })
  .meta({ title: "Edge" });

const CERTIFICATE_PAGE = 1_000;

/** Every active certificate an edge holds, by edge name, soonest expiry first: one read per page of the certificates table. */
async function activeCertificatesByEdge(store: Store, now: Date): Promise<Map<string, StoredCertificate[]>> {
  const byEdge = new Map<string, StoredCertificate[]>();
  let after: string | undefined;
  do {
    const page = await store.certificates.list({ limit: CERTIFICATE_PAGE, state: "active", now, ...(after === undefined ? {} : { after }) });
    for (const certificate of page.items) {
      if (certificate.edge === null) continue;
      byEdge.set(certificate.edge, [...(byEdge.get(certificate.edge) ?? []), certificate]);
    }
    after = page.nextCursor;
  } while (after !== undefined);
  for (const list of byEdge.values()) list.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
  return byEdge;
}

/** One edge as GET /edges answers: its row, its standing, its certificates' expiry. */
function edgeBody(edge: EdgeFleet["items"][number], certificates: readonly StoredCertificate[], now: Date, joinedAt: string | null) {
  const soon = now.getTime() + EXPIRING_SOON_DAYS * 86_400_000;
  return {
    name: edge.name,
    region: edge.region,
    revision: edge.revision,
    servedAt: edge.servedAt,
    lastSeenAt: edge.lastSeenAt,
    heartbeatMs: edge.heartbeatMs,
    startedAt: edge.startedAt,
    version: edge.version,
    health: edge.health,
    behindRevisions: edge.behindRevisions,
    behindSince: edge.behindSince,
    heartbeatAgeMs: edge.heartbeatAgeMs,
    certificatesExpireAt: certificates[0]?.notAfter.toISOString() ?? null,
    certificatesExpiringSoon: certificates.filter((certificate) => certificate.notAfter.getTime() <= soon).length,
    certificates: certificates.map((certificate) => ({ use: certificate.use, name: certificate.name, serialHex: certificate.serialHex, notAfter: certificate.notAfter.toISOString() })),
    caTrust: edge.caTrust ?? null,
    stoppedAt: edge.stoppedAt ?? null,
    joinedAt,
  };
}

const listQuery = closedObject({
  maxLag: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseDuration(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `must be a duration such as 30s or 5m: ${(error as Error).message}`, input: text });
      }
    })
    .optional()
    .meta({ description: `How long an edge may serve an older revision than the newest before it is behind (a duration: 30s, 5m; default ${EDGE_HEALTH_DEFAULTS.maxLagMs / 1000}s)` }),
});

export function edgeRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/edges",
      operationId: "listEdges",
      summary: "Every edge that runs (or ran) from this store, by name, with the revision it serves, its last heartbeat, its health, its certificates' expiry and the CA it trusts; and the store's newest revision to compare with",
      tag: "Edges",
      role: "viewer",
      query: listQuery,
      responses: {
        200: {
          description: "The edges, by name",
          schema: z.strictObject({
            revision: z.int().meta({ description: "The store's newest revision" }),
            revisionAt: z.string().nullable().meta({ description: "When it was committed; null while the store has none" }),
            maxLagMs: z.int().meta({ description: "The lag the health was judged with (maxLag, else 30 s)" }),
            items: z.array(edgeSchema),
          }),
        },
      },
      async handler({ query }) {
        const maxLagMs = query.maxLag === undefined ? EDGE_HEALTH_DEFAULTS.maxLagMs : parseDuration(query.maxLag);
        const now = new Date();
        const [fleet, certificates, joined] = await Promise.all([store.edges.fleet({ now, maxLagMs }), activeCertificatesByEdge(store, now), store.joins.listJoined()]);
        const joinedAt = new Map(joined.map((edge) => [edge.name, edge.joinedAt]));
        const items = fleet.items.map((edge) => edgeBody(edge, certificates.get(edge.name) ?? [], now, joinedAt.get(edge.name) ?? null));
        return { status: 200, body: { revision: fleet.revision, revisionAt: fleet.revisionAt, maxLagMs, items } };
      },
    }),
  ];
}
