// The cases of the side-by-side bench, in run order: what is loaded, how, and which peers take part.
import type { PeerId } from "./bench-scene.ts";
import type { LoadKind } from "./load-tools.ts";

export interface CompareCase {
  id: string;
  title: string;
  kind: LoadKind;
  path: string;
  peers: PeerId[];
  /** Whether the case is read by its latency at a fixed rate rather than by its throughput. */
  isFixedRate: boolean;
}

// For a miss the ceiling is a bare proxy: node:https in, undici's keep-alive mTLS pool out (ceiling-proxy.ts).
const EDGES_AND_CEILING: PeerId[] = ["moat", "nginx", "ceiling"];

export const COMPARE_CASES: CompareCase[] = [
  // The access-log cost: Moat at the default info level, measured beside Moat at warn.
  { id: "hit-1k", title: "hit 1 KiB, h1 keep-alive", kind: "h1", path: "/cache/1024", peers: ["moat", "moat-info", "nginx", "ceiling"], isFixedRate: false },
  { id: "hit-16k", title: "hit 16 KiB, h1 keep-alive", kind: "h1", path: "/cache/16384", peers: EDGES_AND_CEILING, isFixedRate: false },
  { id: "hit-1m", title: "hit 1 MiB, h1 keep-alive", kind: "h1", path: "/cache/1048576", peers: EDGES_AND_CEILING, isFixedRate: false },
  { id: "h2-hit-1k", title: "hit 1 KiB, h2 (10 streams/conn)", kind: "h2", path: "/cache/1024", peers: EDGES_AND_CEILING, isFixedRate: false },
  { id: "miss-1k", title: "miss 1 KiB (no-store), origin mTLS", kind: "h1", path: "/no-store/1024", peers: EDGES_AND_CEILING, isFixedRate: false },
  { id: "new-conn", title: "new TLS connection per request (hit 1 KiB)", kind: "h1-new-connection", path: "/cache/1024", peers: EDGES_AND_CEILING, isFixedRate: false },
  { id: "rate-hit-1k", title: "hit 1 KiB at a fixed rate, h1", kind: "h1-fixed-rate", path: "/cache/1024", peers: EDGES_AND_CEILING, isFixedRate: true },
  { id: "rate-miss-1k", title: "miss 1 KiB at a fixed rate, h1", kind: "h1-fixed-rate", path: "/no-store/1024", peers: EDGES_AND_CEILING, isFixedRate: true },
];
