// API tokens over the API (admins only): create (the secret is in that one answer), list and read without secrets, revoke.
import { z } from "zod";
import { closedObject, idSchema, parseDuration } from "../../config/index.ts";
import { ApiNotFoundError, ApiRequestInvalidError } from "../../errors.ts";
import { API_ROLES } from "../../store/index.ts";
import type { Store, TokenRecord } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";

const TAG = "Tokens";
export const DEFAULT_TOKEN_LIFETIME = "90d";

/** A duration (`90d`, `12h`) more than 0 and at most `maxDays` days: how long a token the API makes may live. */
export function lifetimeAtMost(maxDays: number): z.ZodType<string> {
  return z.string().superRefine((text, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message, input: text });
      return;
    }
    if (ms <= 0 || ms > maxDays * 86_400_000) ctx.addIssue({ code: "custom", message: `must be more than 0 and at most ${maxDays}d (got ${JSON.stringify(text)})`, input: text });
  });
}

/** `90d`, `12h`: how long a new token lives, at most a year. */
export const tokenLifetime = lifetimeAtMost(366);

export const tokenSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  role: z.enum(API_ROLES),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
}) satisfies z.ZodType<TokenRecord>;

const createBody = closedObject({
  name: idSchema.meta({ description: "What the token is for (ci-deploy): lists and logs show it" }),
  role: z.enum(API_ROLES),
  expiresIn: tokenLifetime
    .optional()
    .meta({ description: `How long it lives (default ${DEFAULT_TOKEN_LIFETIME}, at most 366d); never past the expiry of the credential that creates it (a token's expiresAt, a certificate's notAfter): a longer one is refused, the default is cut to it` }),
});

/**
 * When a new token expires: `expiresIn` from now (default 90d), never after `creatorExpiresAt`. A credential that could
 * mint a longer-lived one would outlive its own expiry (and its revocation) through it: an explicit longer life is
 * refused naming `expiresIn`; the default is cut to the creator's expiry.
 */
export function tokenExpiry(at: Date, expiresIn: string | undefined, creatorExpiresAt: Date): Date {
  const asked = new Date(at.getTime() + parseDuration(expiresIn ?? DEFAULT_TOKEN_LIFETIME));
  if (asked.getTime() <= creatorExpiresAt.getTime()) return asked;
  if (expiresIn === undefined) return creatorExpiresAt;
  throw new ApiRequestInvalidError("the request body", [
    { path: "expiresIn", pointer: "/expiresIn", message: `must not outlive the credential that creates the token, which expires at ${creatorExpiresAt.toISOString()} (got ${JSON.stringify(expiresIn)}, which ends at ${asked.toISOString()})` },
  ]);
}

export function tokenRoutes(store: Store, now: () => Date): ApiRoute[] {
  const params = closedObject({ id: z.string().regex(/^[0-9a-f]{16}$/, { error: "must be a token id: 16 hex digits" }) });
  return [
    defineRoute({
      method: "POST",
      url: "/tokens",
      operationId: "createToken",
      summary: "Create a token; its secret is in this answer and nowhere else, ever",
      tag: TAG,
      role: "admin",
      body: createBody,
      responses: {
        201: {
          description: "The token, with its secret (send it as Authorization: Bearer <secret>)",
          schema: z.strictObject({ secret: z.string().meta({ description: "moat_<id>_<secret>: shown once, stored only as its SHA-256" }), token: tokenSchema }),
          headers: ["Location"],
        },
      },
      async handler({ body, identity }) {
        const at = now();
        const expiresAt = tokenExpiry(at, body.expiresIn, identity.expiresAt);
        const { secret, token } = await store.tokens.create({ name: body.name, role: body.role, expiresAt, createdBy: actorOf(identity), now: at });
        // no-store: the one copy of the secret must not stay in a cache on the way.
        return { status: 201, body: { secret, token }, headers: { location: `/tokens/${token.id}`, "cache-control": "no-store" } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/tokens",
      operationId: "listTokens",
      summary: "Every token, revoked and expired ones too; never a secret or its hash",
      tag: TAG,
      role: "admin",
      responses: { 200: { description: "The tokens, oldest first", schema: z.strictObject({ items: z.array(tokenSchema) }) } },
      async handler() {
        return { status: 200, body: { items: await store.tokens.list() } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/tokens/:id",
      operationId: "getToken",
      summary: "One token, without its secret",
      tag: TAG,
      role: "admin",
      params,
      responses: { 200: { description: "The token", schema: tokenSchema } },
      async handler({ params: { id } }) {
        const token = await store.tokens.get(id);
        if (!token) throw new ApiNotFoundError(`token ${id}`);
        return { status: 200, body: token };
      },
    }),
    defineRoute({
      method: "DELETE",
      url: "/tokens/:id",
      operationId: "revokeToken",
      summary: "Revoke a token: refused from now on (revoking it again changes nothing)",
      tag: TAG,
      role: "admin",
      params,
      responses: { 200: { description: "The revoked token", schema: tokenSchema } },
      async handler({ params: { id }, identity }) {
        const token = await store.tokens.revoke(id, now(), actorOf(identity));
        if (!token) throw new ApiNotFoundError(`token ${id}`);
        return { status: 200, body: token };
      },
    }),
  ];
}
