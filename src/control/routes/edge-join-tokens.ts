// Join tokens over the API (admins only): a one-time token that lets one edge join the fleet (`moat edge join`); its secret is in the one answer that creates it; listed and revoked without it.
import { z } from "zod";
import { closedObject, parseDuration } from "../../config/index.ts";
import { ApiNotFoundError } from "../../errors.ts";
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
    revokedAt: z.string().nullable().meta({ description: "When an admin revoked it, unused (`moat edge token revoke`); null: never" }),
    state: z.enum(["usable", "used", "revoked", "expired"]).meta({ description: "usable: it can join its edge once; used, revoked, expired: it joins nobody" }),
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
    defineRoute({
      method: "GET",
      url: "/edges/join-tokens",
      operationId: "listEdgeJoinTokens",
      summary: "Every join token, used, revoked and expired ones too, with its state; never a secret or its hash",
      tag: "Edges",
      role: "admin",
      responses: { 200: { description: "The join tokens, oldest first", schema: z.strictObject({ items: z.array(joinTokenSchema) }) } },
      async handler() {
        return { status: 200, body: { items: await store.joins.listTokens(now()) } };
      },
    }),
    defineRoute({
      method: "DELETE",
      url: "/edges/join-tokens/:id",
      operationId: "revokeEdgeJoinToken",
      summary: "Revoke an unused join token: it joins nobody from now on (revoking it again changes nothing; a used one is refused, 409)",
      tag: "Edges",
      role: "admin",
      params: closedObject({ id: z.string().regex(/^[0-9a-f]{16}$/, { error: "must be a join token id: 16 hex digits" }) }),
      responses: { 200: { description: "The revoked token", schema: joinTokenSchema }, 409: { description: "An edge used it already (join-token-used-already): a used token joins nobody again" } },
      async handler({ params: { id }, identity }) {
        const token = await store.joins.revokeToken(id, now(), actorOf(identity));
        if (!token) throw new ApiNotFoundError(`join token ${id}`);
        return { status: 200, body: token };
      },
    }),
  ];
}
