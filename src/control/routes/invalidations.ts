// Cache invalidations over the API, in the store: every edge run from it applies them and records that it has, so their status reads here for the whole fleet.
import { z } from "zod";
import { closedObject, idSchema } from "../../config/index.ts";
import { ApiNotFoundError, ApiRequestInvalidError, InvalidationRequestInvalidError } from "../../errors.ts";
import { invalidationPathProblem, invalidationRequestIssues } from "../../cache/index.ts";
import type { Store, StoredInvalidation } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";

const TAG = "Invalidations";
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;
const MAX_PATHS = 1000;

const invalidationSchema = z
  .strictObject({
    id: z.string().meta({ description: "Its id in the store (the decimal of seq): what /invalidations/{id} takes" }),
    seq: z.int().meta({ description: "Its number in the store: every edge applies them in this order" }),
    distribution: z.string(),
    paths: z.array(z.string()),
    at: z.string().meta({ description: "When it was recorded (ISO 8601, UTC)" }),
    actor: z.string().meta({ description: "Who recorded it: api:token/<id>, api:certificate/<name>, cli:<user>" }),
    status: z.enum(["pending", "applied"]).meta({
      description:
        "applied: every live edge (a heartbeat within 3 of its intervals) has applied it on every one of its workers, and at least one edge has: the next request for these paths goes to the origin; pending otherwise (also while no edge has applied it)",
    }),
    edges: z
      .array(
        z.strictObject({
          edge: z.string(),
          status: z.enum(["pending", "applied", "not-waited-for"]).meta({ description: "not-waited-for: a silent edge (or one with no heartbeat row) that has not applied it; it applies every invalidation when it comes back" }),
          appliedAt: z.string().nullable(),
          heartbeat: z.enum(["live", "stopped", "silent", "gone"]).nullable().meta({ description: "Whether it still reports (GET /edges has its health; stopped: it stopped cleanly); null for an edge with no heartbeat row" }),
          lastSeenAt: z.string().nullable().meta({ description: "Its last heartbeat: for a silent edge, silent since then" }),
        }),
      )
      .meta({ description: "Each live edge, and each other that applied invalidations from this store (by its --edge-name) unless gone a day and without this one, and when it applied this one" }),
  })
  .meta({ title: "Invalidation" });

type Invalidation = z.output<typeof invalidationSchema>;

function toItem(stored: StoredInvalidation): Invalidation {
  const edges = stored.edges.map((edge) => ({
    edge: edge.edge,
    status: edge.appliedAt !== null ? ("applied" as const) : edge.isWaitedFor ? ("pending" as const) : ("not-waited-for" as const),
    appliedAt: edge.appliedAt,
    heartbeat: edge.heartbeat,
    lastSeenAt: edge.lastSeenAt,
  }));
  return { id: stored.id, seq: stored.seq, distribution: stored.distribution, paths: [...stored.paths], at: stored.at, actor: stored.actor, status: stored.isApplied ? "applied" : "pending", edges };
}

const createBody = closedObject({
  distribution: idSchema.meta({ description: "The distribution whose cached objects to invalidate" }),
  paths: z
    .array(
      z.string().superRefine((path, ctx) => {
        const problem = invalidationPathProblem(path);
        if (problem) ctx.addIssue({ code: "custom", message: problem, input: path });
      }),
    )
    .min(1, { error: invalidationRequestIssues({ distribution: "", paths: [] })[0]!.message })
    .max(MAX_PATHS)
    .meta({ description: "/exact/path, or /prefix* (* alone or /*: everything); * only at the end, as `moat cache invalidate` takes them" }),
});

const listQuery = closedObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many items (default ${DEFAULT_PAGE})` }),
  cursor: z.string().regex(/^\d+$/).optional().meta({ description: "The nextCursor of the previous page" }),
  distribution: idSchema.optional(),
});

/** The store's refusal as the API's: the same words, each pointing at its field. */
function asRequestInvalid(error: unknown): never {
  if (!(error instanceof InvalidationRequestInvalidError)) throw error;
  throw new ApiRequestInvalidError(
    "the request body",
    error.issues.map((issue) => ({ ...issue, pointer: `/${issue.path.replace(/\[(\d+)\]/g, "/$1").replace(/\./g, "/")}` })),
  );
}

export function invalidationRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      url: "/invalidations",
      operationId: "createInvalidation",
      summary: "Invalidate paths of a distribution: recorded in the store, in one transaction; every edge run from it applies it within about a second (every worker); poll its status",
      tag: TAG,
      role: "operator",
      body: createBody,
      responses: { 202: { description: "Recorded; its status says when the edges have applied it", schema: invalidationSchema, headers: ["Location"] } },
      async handler({ body, identity }) {
        const created = await store.invalidations
          .create({
            distribution: body.distribution,
            paths: body.paths,
            actor: actorOf(identity),
            now: new Date(),
            check: (distributions) => invalidationRequestIssues(body, { distributions, where: `the store ${store.label}` }),
          })
          .catch(asRequestInvalid);
        return { status: 202, body: toItem(created), headers: { location: `/invalidations/${created.id}` } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/invalidations",
      operationId: "listInvalidations",
      summary: "Invalidations in the store, newest first, each with its state on every edge",
      tag: TAG,
      role: "viewer",
      query: listQuery,
      responses: { 200: { description: "A page of invalidations", schema: z.strictObject({ items: z.array(invalidationSchema), nextCursor: z.string().optional() }) } },
      async handler({ query }) {
        const limit = query.limit ?? DEFAULT_PAGE;
        // One more than the page: whether there is a next one, without a count.
        const rows = await store.invalidations.list({ limit: limit + 1, before: query.cursor === undefined ? undefined : Number(query.cursor), distribution: query.distribution });
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return { status: 200, body: { items: page.map(toItem), ...(rows.length > limit && last ? { nextCursor: String(last.seq) } : {}) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/invalidations/:id",
      operationId: "getInvalidation",
      summary: "One invalidation and, for each edge on the store, whether (and when) it applied it",
      tag: TAG,
      role: "viewer",
      params: closedObject({ id: z.string().regex(/^[1-9]\d{0,15}$/, { error: "must be an invalidation id: its number, as POST /invalidations answered" }) }),
      responses: { 200: { description: "The invalidation", schema: invalidationSchema } },
      async handler({ params }) {
        const stored = await store.invalidations.get(Number(params.id));
        if (!stored) throw new ApiNotFoundError(`invalidation ${params.id}`);
        return { status: 200, body: toItem(stored) };
      },
    }),
  ];
}
