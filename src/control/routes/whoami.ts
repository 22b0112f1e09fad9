// Who the caller is, as the API authenticated it: what the web console signs in with and hides the controls of a role below.
import { z } from "zod";
import { API_ROLES } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { actorOf } from "../auth.ts";

const whoamiSchema = z
  .strictObject({
    kind: z.enum(["token", "certificate"]).meta({ description: "How the request authenticated: a bearer token, or an admin client certificate" }),
    name: z.string().meta({ description: "The token's name, or the name in the certificate's SPIFFE ID" }),
    role: z.enum(API_ROLES).meta({ description: "viewer < operator < admin: what the routes allow (each route's least role is in this document)" }),
    actor: z.string().meta({ description: "How the audit trail records this caller's changes: api:token/<id>, api:certificate/<name>" }),
    tokenId: z.string().optional().meta({ description: "A token's id (never its secret)" }),
    spiffeId: z.string().optional().meta({ description: "A certificate's SPIFFE ID" }),
    serialHex: z.string().optional().meta({ description: "A certificate's serial" }),
  })
  .meta({ title: "Whoami" });

export function whoamiRoutes(): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/whoami",
      operationId: "whoami",
      summary: "Who this request authenticated as (a token or an admin certificate) and its role; never a secret",
      tag: "API",
      role: "viewer",
      responses: { 200: { description: "The caller", schema: whoamiSchema } },
      async handler({ identity }) {
        const common = { kind: identity.kind, name: identity.name, role: identity.role, actor: actorOf(identity) };
        const body = identity.kind === "token" ? { ...common, tokenId: identity.id } : { ...common, spiffeId: identity.spiffeId, serialHex: identity.serialHex };
        return { status: 200, body };
      },
    }),
  ];
}
