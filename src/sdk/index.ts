// `moat/sdk`: the typed client of Moat's admin API, its types generated from the API's OpenAPI document.

/**
 * A client of the admin API, typed by its OpenAPI document; the server's certificate is verified against `ca`.
 *
 * @example
 * import { createMoatClient, ifMatch, versionOf } from "moat/sdk";
 * const moat = createMoatClient({ url: "https://127.0.0.1:8444", ca: caPem, token: process.env.MOAT_TOKEN });
 * const { data, response } = await moat.GET("/distributions/{id}", { params: { path: { id: "shop" } } });
 * await moat.PUT("/distributions/{id}", { params: { path: { id: "shop" }, header: { "If-Match": ifMatch(versionOf(response)!) } }, body: { ...data!.document, aliases: ["shop.example"] } });
 * await moat.close();
 */
export { createMoatClient, DEFAULT_CLIENT_DEADLINE_MS, ifMatch, versionOf } from "./client.ts";
export type { MoatClient, MoatClientOptions } from "./client.ts";
/**
 * What a call throws: the API's problem (status, code, detail, issues), or why it could not be asked.
 *
 * @example
 * try { await moat.DELETE("/distributions/{id}", …) } catch (error) { if (error instanceof ApiProblemError && error.status === 412) … }
 */
export { ApiAnswerUnexpectedError, ApiClientDeadlineError, ApiProblemError, ApiUnreachableError, MoatError } from "../errors.ts";
export type { ApiRequestIssue } from "../errors.ts";
/** The generated types: `components["schemas"]`, `operations`, `paths`. */
export type { components, operations, paths } from "./openapi-types.ts";
/** The documents of the resources, by name: `Distribution`, `DistributionItem`, `TrustStore`, `TrustStoreItem`, `Revision`, `ApiToken`, `Certificate`, `CaStatus`, `CaStepResult`, `Invalidation`, `EdgeList`, `JoinToken`, `ConfigDiffAnswer`. */
export type { ApiToken, CaStatus, CaStepResult, Certificate, ConfigDiffAnswer, Distribution, DistributionItem, EdgeList, Invalidation, JoinToken, Revision, TrustStore, TrustStoreItem } from "./resources.ts";
