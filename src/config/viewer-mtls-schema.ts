// The config keys of viewer mTLS: named trust stores, a distribution's mode and forwarding, a behavior's requirement.

import { z } from "zod";
import { closedObject } from "./closed-object.ts";
import * as field from "./fields.ts";
import { describeValue } from "./issues.ts";

export const VIEWER_MTLS_MODES = ["off", "optional", "required", "passthrough"] as const;

/** A CA bundle that verifies viewers' client certificates, with the CRLs of its CAs. */
const trustStore = closedObject({
  caBundle: field.filePath,
  crl: z
    .union([field.filePath, z.array(field.filePath).min(1)], {
      error: (issue) => `must be a CRL file, or a list of them (got ${describeValue(issue.input)})`,
    })
    .optional(),
  allowNoEku: z.boolean().optional(),
});

/** `trustStores: { partners: { caBundle, crl } }`: defined once, named by distributions. */
export const trustStores = z.record(field.id, trustStore);

/** A distribution's `viewerMtls`. */
export const viewerMtls = closedObject({
  mode: z.enum(VIEWER_MTLS_MODES, {
    error: (issue) => `must be one of ${VIEWER_MTLS_MODES.join(", ")} (got ${describeValue(issue.input)})`,
  }),
  trustStore: z.string().min(1).optional(),
  /** Only edges of this fleet presenting this distribution's identity: the shield side of an origin shield. */
  edgesOnly: z.boolean({ error: "must be true or false" }).optional(),
  forward: closedObject({
    moat: z.boolean().optional(),
    rfc9440: z.boolean().optional(),
    xfcc: z.boolean().optional(),
  }).optional(),
});

/** A behavior's `viewerMtls`: only `required` (a path that needs a verified certificate on an `optional` distribution). */
export const behaviorViewerMtls = z.literal("required", {
  error: (issue) => `must be required (a verified viewer certificate for this path), or left out (got ${describeValue(issue.input)})`,
});

export type TrustStoreDocument = z.output<typeof trustStore>;
export type ViewerMtlsDocument = z.output<typeof viewerMtls>;
