// What a config means when it leaves something out, and the bounds of what it may say.

import type { HttpMethod, KeyAlgorithm, TlsVersion } from "./types.ts";

export const KEY_ALGORITHMS = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"] as const satisfies readonly KeyAlgorithm[];
export const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"] as const satisfies readonly TlsVersion[];
/** Canonical order, also the order of BehaviorConfig.allowedMethods. */
export const HTTP_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"] as const satisfies readonly HttpMethod[];

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULTS = {
  dataDir: ".moat",
  dataDirEnv: "MOAT_DATA_DIR",
  masterKeyEnv: "MOAT_MASTER_KEY",
  masterKeyFileEnv: "MOAT_MASTER_KEY_FILE",
  trustDomain: "moat.internal",
  keyAlgorithm: "ecdsa-p256",
  clientCertValidityMs: 24 * HOUR,
  serverCertValidityMs: 30 * DAY,
  // cert-manager and SPIRE renew at two thirds of a certificate's life too.
  renewAtFraction: 2 / 3,
  // A new intermediate lives 5 years (never past its root), a new root 10; both renew at renewAtFraction.
  intermediateValidityMs: Math.round(5 * 365.25 * DAY),
  rootValidityMs: Math.round(10 * 365.25 * DAY),
  // Long enough for every origin's trust bundle to be updated by whatever deploys it.
  rolloverOverlapMs: 30 * DAY,
  host: "0.0.0.0",
  httpsPort: 8443,
  httpPort: 8080,
  minTlsVersion: "TLSv1.2",
  connectTimeoutMs: 5 * SECOND,
  responseTimeoutMs: 30 * SECOND,
  failoverOn: [500, 502, 503, 504],
  // CloudFront closes a WebSocket after 10 minutes without a byte either way.
  websocketIdleTimeoutMs: 10 * MINUTE,
  // API Gateway's WebSocket limit: a tunnel is re-opened (and its viewer re-checked) at least this often.
  websocketMaxLifetimeMs: 2 * HOUR,
} as const;

export const LIMITS = {
  // Client certificates are short-lived by design; seconds are allowed so tests can watch rotation.
  clientCertValidityMs: { min: SECOND, max: 90 * DAY },
  // CA/Browser Forum Baseline Requirements §6.3.2: at most 398 days for a TLS server certificate.
  serverCertValidityMs: { min: SECOND, max: 398 * DAY },
  // Renewing before half the life wastes keys; after 95% leaves no time to retry a failed renewal.
  renewAtFraction: { min: 0.5, max: 0.95 },
  timeoutMs: { min: 1, max: 10 * MINUTE },
  // Leaves never outlive their intermediate, so an intermediate shorter than a day would shorten every leaf.
  intermediateValidityMs: { min: DAY, max: Math.round(20 * 365.25 * DAY) },
  rootValidityMs: { min: DAY, max: Math.round(30 * 365.25 * DAY) },
  rolloverOverlapMs: { min: HOUR, max: 2 * 365 * DAY },
  websocketIdleTimeoutMs: { min: SECOND, max: HOUR },
  websocketMaxLifetimeMs: { min: SECOND, max: DAY },
} as const;
