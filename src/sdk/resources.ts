// Names for the documents the API's routes take and answer, read from the generated paths (so they follow the OpenAPI document).
import type { paths } from "./openapi-types.ts";

type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

/** A distribution, as the config file writes one (the body of POST /distributions and PUT /distributions/{id}). */
export type Distribution = Json<paths["/distributions"]["post"]["requestBody"]>;
/** `{ id, version, revision, document }`. */
export type DistributionItem = Json<paths["/distributions/{id}"]["get"]["responses"][200]>;
/** A trust store, as the config's `trustStores.<name>` writes one. */
export type TrustStore = Json<paths["/trust-stores/{name}"]["put"]["requestBody"]>;
/** `{ name, version, revision, document }`. */
export type TrustStoreItem = Json<paths["/trust-stores/{name}"]["get"]["responses"][200]>;
/** One revision: number, time, who, what. */
export type Revision = Json<paths["/revisions"]["get"]["responses"][200]>["items"][number];
/** An API token, without its secret. */
export type ApiToken = Json<paths["/tokens/{id}"]["get"]["responses"][200]>;
