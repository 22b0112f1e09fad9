// Sends a request to a behavior's target: one origin, or an origin group that fails over from primary to secondary.
import type { Readable } from "node:stream";
import { OriginFailureError } from "../errors.ts";
import type { OriginClient, OriginRequest, OriginResponse } from "./origin-client.ts";

export type OriginTarget =
  | { kind: "origin"; id: string; client: OriginClient }
  | { kind: "group"; id: string; primary: OriginClient; secondary: OriginClient; failoverOn: ReadonlySet<number> };

/**
 * A target's answer: the origin's response, the origin that gave it, and why a group failed over. It reads as the
 * cache's OriginAnswer too (status, headers, body, originId), so that a miss hands it on without another object.
 */
export class TargetResponse {
  readonly response: OriginResponse;
  /** The origin that answered. */
  readonly client: OriginClient;
  /** Set when the primary of a group failed and the secondary answered: why. */
  readonly failedOverBecause: string | null;

  constructor(response: OriginResponse, client: OriginClient, failedOverBecause: string | null) {
    this.response = response;
    this.client = client;
    this.failedOverBecause = failedOverBecause;
  }

  get statusCode(): number {
    return this.response.statusCode;
  }

  get headers(): Record<string, string | string[] | undefined> {
    return this.response.headers;
  }

  /** Not read unless asked for: a body that has already arrived whole does without its stream (wholeBody). */
  get body(): Readable {
    return this.response.body;
  }

  get originId(): string {
    return this.client.originId;
  }

  /**
   * The access line's origin fields, set on `fields`: the connection's use, the origin's certificate, the client
   * certificate's serial, the origin's latency. Called only for a line that is written.
   */
  addLogFields(fields: Record<string, unknown>): void {
    const response = this.response;
    if (response.connectionUse) fields.originConnection = response.connectionUse;
    if (this.client.clientSerial !== null) fields.originClientSerial = this.client.clientSerial;
    if (response.serverFingerprint256) fields.originCertFingerprint256 = response.serverFingerprint256;
    if (response.originMs !== undefined) fields.originMs = Math.round(response.originMs * 10) / 10;
  }

  /** The whole body's chunks when it has already arrived and `body` was never read; else null. */
  wholeBody(): Buffer[] | null {
    return this.response.wholeBody?.() ?? null;
  }
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
    return target.client.requestAsTarget(request);
  }
  return requestGroup(target, request);
}

async function requestGroup(target: Extract<OriginTarget, { kind: "group" }>, request: OriginRequest): Promise<TargetResponse> {
  if (!replayableMethods.has(request.method)) {
    return new TargetResponse(await target.primary.request(request), target.primary, null);
  }
  let reason: string;
  try {
    const response = await target.primary.request(request);
    if (!target.failoverOn.has(response.statusCode)) return new TargetResponse(response, target.primary, null);
    reason = `status ${response.statusCode}`;
    response.body.resume();
  } catch (error) {
    if (!(error instanceof OriginFailureError)) throw error;
    reason = error.code;
  }
  const response = await target.secondary.request(request);
  return new TargetResponse(response, target.secondary, `origin ${target.primary.originId}: ${reason}`);
}
