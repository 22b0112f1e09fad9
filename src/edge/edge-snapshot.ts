// The immutable view of the configuration that the data plane serves from; a reload swaps in a whole new one.
import type { SecureContext } from "node:tls";
import type { CachePolicyConfig } from "../config/index.ts";
import type { OriginTarget } from "../origin/index.ts";

export interface RoutedBehavior {
  /** The behavior's path pattern, for logs. */
  readonly path: string;
  readonly allowedMethods: ReadonlySet<string>;
  readonly target: OriginTarget;
  readonly cache: CachePolicyConfig;
}

export interface DistributionRuntime {
  readonly id: string;
  readonly aliases: readonly string[];
  /** Viewer-facing certificate and TLS policy, selected by SNI. */
  readonly secureContext: SecureContext;
  readonly minVersion: "TLSv1.2" | "TLSv1.3";
  /** Serial of the viewer certificate, for logs. */
  readonly viewerCertificateSerial: string;
  route(pathname: string): RoutedBehavior | undefined;
}

export interface EdgeSnapshot {
  /** Increases with every snapshot a process builds; logged with each request. */
  readonly generation: number;
  readonly distributions: readonly DistributionRuntime[];
  distributionForHost(hostname: string): DistributionRuntime | undefined;
}
