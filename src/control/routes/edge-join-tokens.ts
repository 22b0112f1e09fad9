// Join tokens over the API (admins only): a one-time token that lets one edge join the fleet (`moat edge join`); its secret is in the one answer that creates it.
import { z } from "zod";
import { closedObject, parseDuration } from "../../config/index.ts";
import type { JoinTokenRecord, Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";

export const DEFAULT_JOIN_TOKEN_TTL = "1h";
/** A join token is for a join about to happen: a week at most. */
const MAX_JOIN_TOKEN_TTL_MS = 7 * 86_400_000;

/** An edge's name, as `moat start --edge-name` and `--region` take one: what `moat edge list` shows. */
const edgeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit" });

const joinTtl = z.string().superRefine((text, ctx) => {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message, input: text });
    return;
  }
  if (ms <= 0 || ms > MAX_JOIN_TOKEN_TTL_MS) ctx.addIssue({ code: "custom", message: `must be more than 0 and at most 7d (got ${JSON.stringify(text)})`, input: text });
});

export const joinTokenSchema = z
  .strictObject({
    id: z.string(),
    name: z.string().meta({ description: "The name the edge joins under" }),
    region: z.string().nullable().meta({ description: "The region it is recorded in (`moat edge join --region` wins); null: none" }),
    createdAt: z.string(),
    createdBy: z.string(),
    expiresAt: z.string(),
    usedAt: z.string().nullable().meta({ description: "When an edge joined with it; a token works once" }),
  })
  .meta({ title: "JoinToken" }) satisfies z.ZodType<JoinTokenRecord>;

const createBody = closedObject({
  name: edgeNameSchema.meta({ description: "The name the edge joins (and runs, and is listed) under" }),
  region: edgeNameSchema.optional().meta({ description: "Its region, as `moat edge list` shows it" }),
  ttl: joinTtl.optional().meta({ description: `How long the token can be used (default ${DEFAULT_JOIN_TOKEN_TTL}, at most 7d)` }),
});

export function edgeJoinTokenRoutes(store: Store, now: () => Date): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      url: "/edges/join-tokens",
      operationId: "createEdgeJoinToken",
      summary: "Create a one-time token an edge joins the fleet with (`moat edge join`); its secret is in this answer and nowhere else",
      tag: "Edges",
      role: "admin",
      body: createBody,
      responses: {
        201: {
          description: "The token, with its secret: give it to the edge's operator",
          schema: z.strictObject({ secret: z.string().meta({ description: "moat_join_<id>_<secret>: shown once, stored only as its SHA-256; it works once" }), token: joinTokenSchema }),
        },
      },
      async handler({ body, identity }) {
        const at = now();
        const expiresAt = new Date(at.getTime() + parseDuration(body.ttl ?? DEFAULT_JOIN_TOKEN_TTL));
        const { secret, token } = await store.joins.createToken({ name: body.name, region: body.region ?? null, expiresAt, createdBy: actorOf(identity), now: at });
        // no-store: the one copy of the secret must not stay in a cache on the way.
        return { status: 201, body: { secret, token }, headers: { "cache-control": "no-store" } };
      },
    }),
  ];
}
