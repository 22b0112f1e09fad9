// Every route of the admin API, in the order the OpenAPI document lists them.
import type { z } from "zod";
import { configSchema } from "../../config/index.ts";
import type { Store } from "../../store/index.ts";
import type { ApiRoute } from "../api-route.ts";
import { auditRoutes } from "./audit.ts";
import { certificateAuthorityRoutes } from "./certificate-authority.ts";
import { certificateRoutes } from "./certificates.ts";
import { configDocumentRoutes } from "./config-document.ts";
import { configResourceRoutes } from "./config-resources.ts";
import { edgeJoinTokenRoutes } from "./edge-join-tokens.ts";
import { edgeRoutes } from "./edges.ts";
import { invalidationRoutes } from "./invalidations.ts";
import type { DataDirAccess } from "./pki-context.ts";
import { revisionRoutes } from "./revisions.ts";
import { settingsRoutes } from "./settings.ts";
import { tokenRoutes } from "./tokens.ts";
import { trafficRoutes } from "./traffic.ts";
import type { TrafficSource } from "./traffic.ts";
import { whoamiRoutes } from "./whoami.ts";

/** A distribution as the config file writes one: the body of POST /distributions and PUT /distributions/{id}. */
export const distributionDocument = configSchema.shape.distributions.element;
/** A trust store as the config's `trustStores.<name>` writes one. */
export const trustStoreDocument = (configSchema.shape.trustStores.unwrap() as unknown as z.ZodRecord<z.ZodString, z.ZodType>).valueType;

export type { DataDirAccess } from "./pki-context.ts";
export type { TrafficSource } from "./traffic.ts";

/**
 * Every route; those of certificates, the CA and invalidations answer 503 (api-data-dir-unavailable) without `dataDir`,
 * /traffic (traffic-unavailable) without `traffic`.
 */
export function adminApiRoutes(store: Store, now: () => Date, dataDir?: DataDirAccess, traffic?: TrafficSource): ApiRoute[] {
  return [
    ...configResourceRoutes(store, { kind: "distribution", path: "/distributions", key: "id", tag: "Distributions", title: "Distribution", document: distributionDocument, writeRole: "operator", nameInDocument: true }),
    ...configResourceRoutes(store, { kind: "trustStore", path: "/trust-stores", key: "name", tag: "Trust stores", title: "TrustStore", document: trustStoreDocument, writeRole: "operator", nameInDocument: false }),
    ...settingsRoutes(store),
    ...revisionRoutes(store),
    ...tokenRoutes(store, now),
    ...certificateRoutes(store, now, dataDir),
    ...certificateAuthorityRoutes(store, now, dataDir),
    ...invalidationRoutes(store),
    ...edgeRoutes(store),
    ...edgeJoinTokenRoutes(store, now),
    ...configDocumentRoutes(store),
    ...auditRoutes(store, dataDir),
    ...trafficRoutes(traffic, now),
    ...whoamiRoutes(),
  ];
}
