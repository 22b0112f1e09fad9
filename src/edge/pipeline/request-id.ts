// Request ids for correlation (logs, Moat-Request-Id): a random per-process prefix and a counter, no UUID per request.
import { randomBytes } from "node:crypto";

/**
 * Ids are unique within the process (a counter) and across processes and restarts (72 random bits of prefix,
 * drawn once). They are for correlating a response with its log lines, not secrets: a viewer that sees one may
 * guess its neighbours, and nothing grants access by an id.
 * @example
 * const nextRequestId = createRequestIds();
 * nextRequestId(); // "k3Jq9xZ0aB7c-1"
 */
export function createRequestIds(): () => string {
  const prefix = `${randomBytes(9).toString("base64url")}-`;
  let counter = 0;
  return () => prefix + (++counter).toString(36);
}
