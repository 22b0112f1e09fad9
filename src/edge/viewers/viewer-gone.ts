// Cuts an origin request whose viewer leaves before its response is whole: one 'close' listener, no AbortController.
import type { Cancellation, CancellationListener } from "../../origin/index.ts";
import type { ViewerResponse } from "../pipeline/error-response.ts";

// An AbortController per request costs an EventTarget, an AbortSignal with its listener list, and a closure for the
// response's 'close'. Here the response's 'close' listener is one function for every request (EventEmitter calls it
// with the response as `this`), and the request's watch hangs on the response under a symbol.
const WATCH = Symbol("moat.viewerGone");

type WatchedResponse = ViewerResponse & { [WATCH]?: ViewerGone };

/** The viewer's side of a Cancellation: its reason is set when the response closed before it finished. */
export class ViewerGone implements Cancellation {
  reason: Error | null = null;
  listener: CancellationListener | null = null;
  private readonly res: WatchedResponse;

  constructor(res: WatchedResponse) {
    this.res = res;
  }

  /** Once the exchange is over: the listener goes, and a later close changes nothing. */
  stopWatching(): void {
    this.listener = null;
    this.res.off("close", onViewerClose);
    this.res[WATCH] = undefined;
  }
}

function onViewerClose(this: WatchedResponse): void {
  const gone = this[WATCH];
  // writableEnded, not writableFinished: an HTTP/2 response reads as finished once its stream has closed, however it
  // closed. Once end() was called the origin's response is whole (the body is ended after its last chunk): nothing to cut.
  if (gone === undefined || this.writableEnded) return;
  gone.reason = new ViewerLeftError();
  const listener = gone.listener;
  gone.listener = null;
  listener?.cancelled(gone.reason);
}

/** What an origin request is cut with; its code is the one undici's own abort has, which the pipeline does not log as a failure. */
class ViewerLeftError extends Error {
  readonly code = "UND_ERR_ABORTED";
  override readonly name = "AbortError";

  constructor() {
    super("the viewer closed its request before the response was complete");
  }
}

/**
 * Watches the response until stopWatching(); the watch is the Cancellation of the request's origin exchange.
 * @example
 * const gone = watchViewerGone(res);
 * try { await requestTarget(target, { ...request, cancel: gone }); } finally { gone.stopWatching(); }
 */
export function watchViewerGone(res: ViewerResponse): ViewerGone {
  const gone = new ViewerGone(res);
  (res as WatchedResponse)[WATCH] = gone;
  res.on("close", onViewerClose);
  return gone;
}
