// The edges that run from the store: which revision each serves, since when, and its last heartbeat.
import { z } from "zod";
import type { Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";

const edgeSchema = z
  .strictObject({
    name: z.string().meta({ description: "Its --edge-name (else MOAT_EDGE_NAME, else its host name)" }),
    revision: z.int().nullable().meta({ description: "The config revision it serves; null until it serves one from this store" }),
    servedAt: z.string().nullable().meta({ description: "When it started serving that revision (ISO 8601, UTC)" }),
    lastSeenAt: z.string().meta({ description: "Its last report: an edge writes a heartbeat every 10 s while it reaches the store" }),
    startedAt: z.string().meta({ description: "When its process started" }),
    version: z.string().meta({ description: "The Moat version it runs" }),
  })
  .meta({ title: "Edge" });

export function edgeRoutes(store: Store): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/edges",
      operationId: "listEdges",
      summary: "Every edge that runs (or ran) from this store, by name, with the revision it serves and its last heartbeat; and the store's newest revision to compare with",
      tag: "Edges",
      role: "viewer",
      responses: { 200: { description: "The edges, by name", schema: z.strictObject({ revision: z.int().meta({ description: "The store's newest revision" }), items: z.array(edgeSchema) }) } },
      async handler() {
        const [revision, items] = await Promise.all([store.revision(), store.edges.list()]);
        return { status: 200, body: { revision, items } };
      },
    }),
  ];
}
