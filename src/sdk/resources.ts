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
/** A certificate's public parts: serial, use, name, state, names, validity, fingerprint, where it is used (never a key). */
export type Certificate = Json<paths["/certificates/{serial}"]["get"]["responses"][200]>;
/** The CA's generations, the root rollover in progress and the steps due. */
export type CaStatus = Json<paths["/ca"]["get"]["responses"][200]>;
/** What a CA rotation step changed, the CRL published after it and the CA's status then. */
export type CaStepResult = Json<paths["/ca/renew-intermediate"]["post"]["responses"][200]>;
/** A cache invalidation and whether the running edge (each worker) has applied it. */
export type Invalidation = Json<paths["/invalidations/{id}"]["get"]["responses"][200]>;
/** The edges that run from the store: each one's name, the revision it serves, its last heartbeat. */
export type EdgeList = Json<paths["/edges"]["get"]["responses"][200]>;
/** A join token an edge joins the fleet with, without its secret: its edge's name, region, times and state. */
export type JoinToken = Json<paths["/edges/join-tokens/{id}"]["delete"]["responses"][200]>;
/** What applying a config document would change (POST /config/diff), against the revision named. */
export type ConfigDiffAnswer = Json<paths["/config/diff"]["post"]["responses"][200]>;
