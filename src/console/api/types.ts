// The API's documents as the console uses them, named from the SDK's generated types (src/sdk/resources.ts).
export type { ApiToken, Certificate, DistributionItem, EdgeList, Invalidation, JoinToken } from "../../sdk/resources.ts";
import type { paths } from "../../sdk/openapi-types.ts";

type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

export type Whoami = Json<paths["/whoami"]["get"]["responses"][200]>;
export type Role = Whoami["role"];
export type Traffic = Json<paths["/traffic"]["get"]["responses"][200]>;
export type AuditRecord = Json<paths["/audit"]["get"]["responses"][200]>["items"][number];
export type AuditVerification = Json<paths["/audit/verify"]["get"]["responses"][200]>;
export type Distribution = Json<paths["/distributions"]["post"]["requestBody"]>;
/** The body of PUT /distributions/{id}: the same document, typed from its own route (durations as the config writes them). */
export type DistributionReplacement = NonNullable<paths["/distributions/{id}"]["put"]["requestBody"]>["content"]["application/json"];

/** One thing wrong with a request, as the API names it: a path in the body (`origins[0].url`) or in the config the change would make. */
export interface ProblemIssue {
  path: string;
  message: string;
  pointer?: string;
}
