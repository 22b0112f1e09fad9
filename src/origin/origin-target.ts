// Sends a request to a behavior's target: one origin, or an origin group that fails over from primary to secondary.
import { OriginFailureError } from "../errors.ts";
import type { OriginClient, OriginRequest, OriginResponse } from "./origin-client.ts";

export type OriginTarget =
  | { kind: "origin"; id: string; client: OriginClient }
  | { kind: "group"; id: string; primary: OriginClient; secondary: OriginClient; failoverOn: ReadonlySet<number> };

export interface TargetResponse {
  response: OriginResponse;
  /** The origin that answered. */
  client: OriginClient;
  /** Set when the primary of a group failed and the secondary answered: why. */
  failedOverBecause: string | null;
}

// Like CloudFront, only requests without a body are retried on the secondary: a streamed body
// has been consumed by the primary and cannot be sent twice.
const replayableMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Sends `request` to `target`; on a group, retries the secondary on a connection/TLS failure or a `failoverOn` status.
 * @example
 * const { response, client } = await requestTarget(target, { method: "GET", path: "/", headers: {}, body: null });
 */
export function requestTarget(target: OriginTarget, request: OriginRequest): Promise<TargetResponse> {
  if (target.kind === "origin") {
    const client = target.client;
    return client.request(request).then((response) => ({ response, client, failedOverBecause: null }));
  }
  return requestGroup(target, request);
}

async function requestGroup(target: Extract<OriginTarget, { kind: "group" }>, request: OriginRequest): Promise<TargetResponse> {
  if (!replayableMethods.has(request.method)) {
    return { response: await target.primary.request(request), client: target.primary, failedOverBecause: null };
  }
  let reason: string;
  try {
    const response = await target.primary.request(request);
    if (!target.failoverOn.has(response.statusCode)) return { response, client: target.primary, failedOverBecause: null };
    reason = `status ${response.statusCode}`;
    response.body.resume();
  } catch (error) {
    if (!(error instanceof OriginFailureError)) throw error;
    reason = error.code;
  }
  const response = await target.secondary.request(request);
  return { response, client: target.secondary, failedOverBecause: `origin ${target.primary.originId}: ${reason}` };
}
