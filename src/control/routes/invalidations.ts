// Cache invalidations over the API: the same request file and lock `moat cache invalidate` uses, so the running edge (every worker) applies them; each one's applied state from applied.json.
import { z } from "zod";
import { closedObject, idSchema } from "../../config/index.ts";
import { ApiNotFoundError, ApiRequestInvalidError } from "../../errors.ts";
import { appendInvalidation, appliedInvalidations, invalidationPathProblem, readInvalidations } from "../../cache/index.ts";
import type { AppliedInvalidations } from "../../cache/index.ts";
import type { Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import type { DataDirAccess } from "./pki-context.ts";
import { requireDataDir } from "./pki-context.ts";

const TAG = "Invalidations";
const DEFAULT_PAGE = 100;
const MAX_PAGE = 500;
const MAX_PATHS = 1000;

const invalidationSchema = z
  .strictObject({
    id: z.string(),
    seq: z.int().meta({ description: "Its number in the data directory's invalidation file: the edge applies them in this order" }),
    distribution: z.string(),
    paths: z.array(z.string()),
    at: z.string(),
    status: z.enum(["pending", "applied"]).meta({ description: "applied: every worker of the running edge has applied it (the next request for these paths goes to the origin)" }),
    workers: z
      .array(z.strictObject({ worker: z.int(), pid: z.int(), status: z.enum(["pending", "applied"]) }))
      .optional()
      .meta({ description: "Under workers: each one's state, as the edge's applied.json records it" }),
  })
  .meta({ title: "Invalidation" });

type Invalidation = z.output<typeof invalidationSchema>;

function withStatus(request: { id: string; seq: number; distribution: string; paths: readonly string[]; at: string }, applied: AppliedInvalidations): Invalidation {
  const state = (mark: number) => (mark >= request.seq ? ("applied" as const) : ("pending" as const));
  return {
    id: request.id,
    seq: request.seq,
    distribution: request.distribution,
    paths: [...request.paths],
    at: request.at,
    status: state(applied.applied),
    ...(applied.workers ? { workers: applied.workers.map((worker) => ({ worker: worker.worker, pid: worker.pid, status: state(worker.applied) })) } : {}),
  };
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
    .min(1)
    .max(MAX_PATHS)
    .meta({ description: "/exact/path, or /prefix* (* alone or /*: everything); * only at the end, as `moat cache invalidate` takes them" }),
});

const listQuery = closedObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many items (default ${DEFAULT_PAGE})` }),
  cursor: z.string().regex(/^\d+$/).optional().meta({ description: "The nextCursor of the previous page" }),
  distribution: idSchema.optional(),
});

export function invalidationRoutes(store: Store, access: DataDirAccess | undefined): ApiRoute[] {
  const what = "cache invalidations";
  return [
    defineRoute({
      method: "POST",
      url: "/invalidations",
      operationId: "createInvalidation",
      summary: "Invalidate paths of a distribution: recorded where the running edge applies it within moments (every worker); poll its status",
      tag: TAG,
      role: "operator",
      body: createBody,
      responses: { 202: { description: "Recorded; its status says when the edge has applied it", schema: invalidationSchema, headers: ["Location"] } },
      async handler({ body }) {
        const { dataDir } = requireDataDir(access, what);
        if (!(await store.get("distribution", body.distribution))) {
          const known = (await store.read()).resources.filter((resource) => resource.kind === "distribution").map((resource) => resource.name);
          throw new ApiRequestInvalidError("the request body", [
            { path: "distribution", message: `no distribution "${body.distribution}" in the store${known.length > 0 ? ` (there are: ${known.join(", ")})` : ""}`, pointer: "/distribution" },
          ]);
        }
        const { request, seq } = await appendInvalidation(dataDir, body.distribution, body.paths);
        const item = withStatus({ ...request, seq }, await appliedInvalidations(dataDir));
        return { status: 202, body: item, headers: { location: `/invalidations/${request.id}` } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/invalidations",
      operationId: "listInvalidations",
      summary: "Invalidations still in the file, newest first, each with its applied state (once all are applied the edge compacts the file: superseded ones go)",
      tag: TAG,
      role: "viewer",
      query: listQuery,
      responses: { 200: { description: "A page of invalidations", schema: z.strictObject({ items: z.array(invalidationSchema), nextCursor: z.string().optional() }) } },
      async handler({ query }) {
        const { dataDir } = requireDataDir(access, what);
        const [all, applied] = await Promise.all([readInvalidations(dataDir), appliedInvalidations(dataDir)]);
        const newestFirst = all
          .filter((request) => request.id !== "" && (query.distribution === undefined || request.distribution === query.distribution))
          .sort((a, b) => b.seq - a.seq);
        const after = query.cursor === undefined ? newestFirst : newestFirst.filter((request) => request.seq < Number(query.cursor));
        const page = after.slice(0, query.limit ?? DEFAULT_PAGE);
        const last = page.at(-1);
        return { status: 200, body: { items: page.map((request) => withStatus(request, applied)), ...(after.length > page.length && last ? { nextCursor: String(last.seq) } : {}) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/invalidations/:id",
      operationId: "getInvalidation",
      summary: "One invalidation and whether the running edge (each worker) has applied it",
      tag: TAG,
      role: "viewer",
      params: closedObject({ id: z.string().regex(/^[0-9a-f]{16}$/, { error: "must be an invalidation id: 16 hex digits" }) }),
      responses: { 200: { description: "The invalidation", schema: invalidationSchema } },
      async handler({ params }) {
        const { dataDir } = requireDataDir(access, what);
        const [all, applied] = await Promise.all([readInvalidations(dataDir), appliedInvalidations(dataDir)]);
        const request = all.find((candidate) => candidate.id === params.id);
        if (!request) throw new ApiNotFoundError(`invalidation ${params.id} (an applied one leaves the file once a later one names all its paths)`);
        return { status: 200, body: withStatus(request, applied) };
      },
    }),
  ];
}
