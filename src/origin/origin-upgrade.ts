// Opens a WebSocket (HTTP/1.1 Upgrade) to an origin on its pooled mTLS client: the same client certificate, CA bundle and server name as its requests.
import { PassThrough } from "node:stream";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import { OriginFailureError } from "../errors.ts";
import type { OriginClient, OriginResponse } from "./origin-client.ts";
import type { OriginTarget } from "./origin-target.ts";

export interface OriginUpgradeRequest {
  /** The viewer's path and query; the client prepends the origin's base path. */
  path: string;
  /** End-to-end fields (Sec-WebSocket-* among them); undici adds `Connection: upgrade` and `Upgrade: websocket` itself. */
  headers: Record<string, string | string[]>;
  signal?: AbortSignal;
  /** The origin's server name, as its requests give it (origin-dispatch.ts): an upgrade does not make the pool's connection change server names. */
  servername?: string;
}

/** 101: the origin's headers and the raw connection, now the origin's WebSocket; any other status: an ordinary response. */
export type OriginUpgradeAnswer =
  | { kind: "upgraded"; headers: Record<string, string | string[] | undefined>; socket: Duplex }
  | { kind: "response"; response: OriginResponse };

export interface TargetUpgrade {
  answer: OriginUpgradeAnswer;
  /** The origin that answered. */
  client: OriginClient;
  failedOverBecause: string | null;
}

/**
 * Sends `GET path` with `Upgrade: websocket` on `dispatcher` (an origin's pool, so its connector and
 * its TLS identity). Rejects with what `toFailure` makes of a connection, TLS or timeout error.
 * An upgraded socket is added to `upgraded` until it closes.
 * @example
 * const answer = await upgradeThrough(pool, { path: "/base/chat", headers }, (error) => toOriginFailure(error, context));
 */
export function upgradeThrough(dispatcher: Dispatcher, request: OriginUpgradeRequest, toFailure: (error: unknown) => unknown, upgraded?: Set<Duplex>): Promise<OriginUpgradeAnswer> {
  return new Promise((resolve, reject) => {
    let body: PassThrough | undefined;
    const signal = request.signal;
    let onAbort: (() => void) | undefined;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        onAbort = () => controller.abort(viewerGone());
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
      },
      onRequestUpgrade(_controller, _statusCode, headers, socket) {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        // The pool lets go of an upgraded socket; its owner keeps it, to cut it when the pool is destroyed.
        upgraded?.add(socket);
        socket.once("close", () => upgraded?.delete(socket));
        resolve({ kind: "upgraded", headers, socket });
      },
      onResponseStart(controller, statusCode, headers) {
        if (statusCode < 200) return;
        // RFC 6455 §4.1: any status but 101 means the handshake failed; the viewer gets the answer as it is.
        const stream = new PassThrough();
        body = stream;
        stream.on("close", () => {
          if (!stream.readableEnded && !controller.aborted) controller.abort(viewerGone());
        });
        resolve({ kind: "response", response: { statusCode, headers, body: stream } });
      },
      onResponseData(controller, chunk) {
        if (body && !body.write(chunk)) {
          controller.pause();
          body.once("drain", () => controller.resume());
        }
      },
      onResponseEnd() {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        body?.end();
      },
      onResponseError(_controller, error) {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        if (body) body.destroy(error);
        else reject(isAbort(error) ? error : toFailure(error));
      },
    };
    const options: Dispatcher.DispatchOptions & { servername?: string } = { path: request.path, method: "GET", headers: request.headers, upgrade: "websocket", servername: request.servername };
    dispatcher.dispatch(options, handler);
  });
}

/**
 * Opens the upgrade on a behavior's target. A group tries its secondary when the primary fails to
 * connect or answers a `failoverOn` status, as for a GET: nothing was sent that cannot be sent again.
 * @example
 * const { answer, client } = await upgradeTarget(behavior.target, { path: "/chat", headers });
 */
export async function upgradeTarget(target: OriginTarget, request: OriginUpgradeRequest): Promise<TargetUpgrade> {
  if (target.kind === "origin") return { answer: await target.client.upgrade(request), client: target.client, failedOverBecause: null };
  let reason: string;
  try {
    const answer = await target.primary.upgrade(request);
    if (answer.kind === "upgraded" || !target.failoverOn.has(answer.response.statusCode)) return { answer, client: target.primary, failedOverBecause: null };
    reason = `status ${answer.response.statusCode}`;
    answer.response.body.resume();
  } catch (error) {
    if (!(error instanceof OriginFailureError)) throw error;
    reason = error.code;
  }
  const answer = await target.secondary.upgrade(request);
  return { answer, client: target.secondary, failedOverBecause: `origin ${target.primary.originId}: ${reason}` };
}

function viewerGone(): Error {
  return Object.assign(new Error("the viewer went away"), { name: "AbortError" });
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string })?.name === "AbortError" || (error as { code?: string })?.code === "UND_ERR_ABORTED";
}
