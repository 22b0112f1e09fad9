// HTTP/2 limits of the viewer server: nghttp2's settings and Node's per-session budgets, and a guard that closes a session resetting streams instead of letting them finish (CVE-2023-44487) with GOAWAY ENHANCE_YOUR_CALM.
import http2 from "node:http2";
import type { Http2ServerRequest, SecureServerOptions, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import { ViewerSessionFloodError } from "../errors.ts";
import type { Logger } from "../observe/index.ts";

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** nginx's default; RFC 9113 §6.5.2 advises at least 100; Node's own default is 2^32-1, i.e. none. */
const MAX_CONCURRENT_STREAMS = 128;

/**
 * Server options for the viewer listener. What each limit does when it trips (checked on Node 24 /
 * nghttp2 1.70 by test/e2e/http-conformance.test.ts):
 * - a stream whose DATA disagrees with its Content-Length: nghttp2 resets it, RST_STREAM PROTOCOL_ERROR;
 * - more header fields than maxHeaderListPairs: RST_STREAM ENHANCE_YOUR_CALM (Node);
 * - more streams open at once than maxConcurrentStreams, once the client has acknowledged that setting:
 *   nghttp2 ends the session, GOAWAY PROTOCOL_ERROR (RFC 9113 §5.1.2);
 * - more than 8 CONTINUATION frames after a HEADERS (CVE-2024-28182), or more invalid frames than
 *   maxSessionInvalidFrames: Node destroys the session itself, with GOAWAY INTERNAL_ERROR when it can
 *   still write one, or a bare TCP close when the read that failed leaves it none. Node picks that
 *   code after the fact (no option or event chooses it); the peer is cut off either way;
 * - streams reset as fast as they open (rapid reset): the guard below sends GOAWAY ENHANCE_YOUR_CALM.
 *   Behind it, Node refuses streams past maxConcurrentStreams still counted as open and ends the
 *   session after maxSessionRejectedStreams, and nghttp2 sends GOAWAY INTERNAL_ERROR past
 *   streamResetBurst/streamResetRate: backstops only.
 */
export const VIEWER_H2_OPTIONS = {
  settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: 64 * 1024 },
  maxHeaderListPairs: 128,
  // An honest client sends no invalid frame; Node's default (1000) lets a peer make us reject a thousand.
  maxSessionInvalidFrames: 100,
  maxSessionRejectedStreams: 100,
  // nghttp2's defaults, spelled out: the backstop behind the guard.
  streamResetBurst: 1000,
  streamResetRate: 33,
} as const satisfies SecureServerOptions;

// A browser cancels streams (a page left, a lazy image scrolled past), and lets far more finish; a
// hundred resets more than finished streams is a flood, not a page. Below MAX_CONCURRENT_STREAMS on
// purpose: Node keeps a reset stream counted as open until its read ends, so a flood in one read
// fills the limit, and Node then refuses streams and ends the session with no GOAWAY of ours.
const RESETS_OWED_LIMIT = 100;

const SESSION_COUNTS = Symbol("viewer-h2-guard.counts");

interface SessionCounts {
  readonly session: ServerHttp2Session;
  /** Streams the peer reset before they finished. */
  resets: number;
  /** Streams that closed without a reset. */
  finished: number;
}

type CountedStream = ServerHttp2Stream & { [SESSION_COUNTS]: SessionCounts };

export interface ViewerH2Guard {
  /** Watches a new session's streams. */
  watch(session: ServerHttp2Session): void;
  /** True (and the stream refused) for a request on a session the guard has closed: no work starts for it. */
  refuses(req: { httpVersionMajor: number }): boolean;
}

/**
 * @example
 * const guard = createViewerH2Guard(log);
 * server.on("session", (session) => guard.watch(session));
 * http2.createSecureServer({ ...VIEWER_H2_OPTIONS }, (req, res) => guard.refuses(req) || handler(req, res));
 */
export function createViewerH2Guard(log: Logger): ViewerH2Guard {
  const calmed = new WeakSet<ServerHttp2Session>();

  function calm(session: ServerHttp2Session, resets: number, finished: number): void {
    if (calmed.has(session)) return;
    calmed.add(session);
    log.warn({ remote: session.socket?.remoteAddress, resets, finished }, "viewer HTTP/2 session closed: it resets streams instead of letting them finish (rapid reset)");
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    // Destroyed on the next turn: from inside nghttp2's read the GOAWAY would never be written.
    setImmediate(() => session.destroy(new ViewerSessionFloodError(resets, finished), NGHTTP2_ENHANCE_YOUR_CALM));
  }

  // The counts travel on each stream: by its 'close' the stream no longer knows its session. One pair
  // of listeners for every stream, rather than two closures allocated per stream.
  function onAborted(this: CountedStream): void {
    const counts = this[SESSION_COUNTS];
    counts.resets += 1;
    if (counts.resets - counts.finished > RESETS_OWED_LIMIT) calm(counts.session, counts.resets, counts.finished);
  }
  function onClose(this: CountedStream): void {
    // Node sets `aborted` with the 'aborted' event: a reset stream does not count as finished.
    if (!this.aborted) this[SESSION_COUNTS].finished += 1;
  }

  return {
    watch(session) {
      const counts: SessionCounts = { session, resets: 0, finished: 0 };
      session.on("stream", (stream: ServerHttp2Stream) => {
        (stream as CountedStream)[SESSION_COUNTS] = counts;
        stream.on("aborted", onAborted);
        stream.on("close", onClose);
      });
      session.once("error", (error: Error & { code?: string }) => {
        if (calmed.has(session)) return;
        // A protocol failure (a flood Node or nghttp2 stopped) is worth an operator's eye; a peer's TCP reset is not.
        const level = error.code?.startsWith("ERR_HTTP2_") ? "info" : "debug";
        log[level]({ remote: session.socket?.remoteAddress, error: { code: error.code, message: error.message } }, "viewer HTTP/2 session failed");
      });
    },
    refuses(req) {
      if (req.httpVersionMajor !== 2) return false;
      const stream = (req as Http2ServerRequest).stream;
      if (!calmed.has(stream.session as ServerHttp2Session)) return false;
      stream.close(NGHTTP2_REFUSED_STREAM);
      return true;
    },
  };
}
