// The immutable view of the configuration that the data plane serves from; a reload swaps in a whole new one.
import type { SecureContext } from "node:tls";
import type { CachePolicyConfig, UnderscoreHeaders, ViewerMtlsConfig, WebSocketConfig } from "../../config/index.ts";
import type { OriginTarget } from "../../origin/index.ts";
import type { LoadedTrustStore } from "../../tls/index.ts";

export interface RoutedBehavior {
  /** The behavior's path pattern, for logs. */
  readonly path: string;
  readonly allowedMethods: ReadonlySet<string>;
  readonly target: OriginTarget;
  /** The target is reached through the distribution's origin shield. */
  readonly viaShield: boolean;
  readonly cache: CachePolicyConfig;
  /** A verified viewer certificate is needed on this path (viewer mTLS). */
  readonly requiresViewerCertificate: boolean;
  /** WebSocket upgrades and their limits; null: refused. */
  readonly websocket: WebSocketConfig | null;
}

/** A distribution's viewer mTLS: its mode, the loaded trust store (optional and required), and what origins are told. */
export interface ViewerMtlsRuntime {
  readonly mode: ViewerMtlsConfig["mode"];
  readonly trustStore: LoadedTrustStore | null;
  readonly forward: ViewerMtlsConfig["forward"];
  /** With viewerMtls.edgesOnly: "spiffe://<trustDomain>/distribution/<id>/origin/", what a viewer's URI SAN must start with; else null. */
  readonly edgeIdentityPrefix: string | null;
}

export interface DistributionRuntime {
  readonly id: string;
  readonly aliases: readonly string[];
  /** Viewer-facing certificate and TLS policy, selected by SNI. */
  readonly secureContext: SecureContext;
  readonly minVersion: "TLSv1.2" | "TLSv1.3";
  /** Serial of the viewer certificate, for logs. */
  readonly viewerCertificateSerial: string;
  readonly viewerMtls: ViewerMtlsRuntime;
  /** Whether viewer headers named with "_" reach the origin (viewer-header-names.ts). */
  readonly underscoreHeaders: UnderscoreHeaders;
  /** Share of requests with an access-log line: 0 off, 1 every request. */
  readonly accessLogSample: number;
  /** This edge's Cache-Status identifier for the distribution's responses (cache/cache-status.ts cacheStatusNameOf). */
  readonly cacheStatusName: string;
  route(pathname: string): RoutedBehavior | undefined;
}

export interface EdgeSnapshot {
  /** Increases with every snapshot a process builds; logged with each request. */
  readonly generation: number;
  readonly distributions: readonly DistributionRuntime[];
  /** Names every distribution's certificate policy (mode and CA set): when it changes, session tickets issued before are no longer honoured. */
  readonly viewerPolicyId: string;
  /** The access log's share for a request refused before it is matched to a distribution. */
  readonly accessLogSample: number;
  /** The Cache-Status identifier of a response to a request matched to no distribution. */
  readonly cacheStatusName: string;
  distributionForHost(hostname: string): DistributionRuntime | undefined;
}
