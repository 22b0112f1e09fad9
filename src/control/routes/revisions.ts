// The revision history: who changed the config, when, and what, newest first.
import { z } from "zod";
import { closedObject } from "../../config/index.ts";
import type { Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

const revision = z.strictObject({ revision: z.int(), createdAt: z.string(), actor: z.string(), summary: z.string() });

export function revisionRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/revisions",
      operationId: "listRevisions",
      summary: "The config's revisions, newest first, a page at a time",
      tag: "Revisions",
      role: "viewer",
      query: closedObject({
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many (default ${DEFAULT_PAGE})` }),
        before: z.coerce.number().int().min(1).optional().meta({ description: "Only revisions older than this one: the nextBefore of the previous page" }),
      }),
      responses: { 200: { description: "A page of revisions", schema: z.strictObject({ items: z.array(revision), nextBefore: z.int().optional() }) } },
      async handler({ query }) {
        const limit = query.limit ?? DEFAULT_PAGE;
        // One more than asked: whether there is a next page, without a second query.
        const rows = await store.revisions(limit + 1, query.before === undefined ? {} : { before: query.before });
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        return { status: 200, body: { items, ...(rows.length > limit && last ? { nextBefore: last.revision } : {}) } };
      },
    }),
  ];
}
