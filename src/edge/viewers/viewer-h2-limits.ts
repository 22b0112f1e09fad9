// HTTP/2 limits of the viewer server: nghttp2's settings and Node's per-session budgets, a guard that closes a session resetting streams instead of letting them finish (CVE-2023-44487) with GOAWAY ENHANCE_YOUR_CALM, and a deadline on each stream that stops making progress.
import http2 from "node:http2";
import type { Http2ServerRequest, SecureServerOptions, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { ConnectionDeadlines } from "../../connections/index.ts";
import { ViewerSessionFloodError } from "../../errors.ts";
import type { Logger } from "../../observe/index.ts";

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants;

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
/** The bytes a stream had buffered at the last sweep, while they stayed there; absent when it made progress since. */
const BUFFERED_AT_SWEEP = Symbol("viewer-h2-guard.buffered");
/** True while a 'drain' listener waits on the stream (added by a sweep that found bytes waiting). */
const HEARS_DRAIN = Symbol("viewer-h2-guard.hearsDrain");

/** What a session's streams share: made once per session, so a stream costs one property, not closures. */
interface SessionCounts {
  readonly session: ServerHttp2Session;
  /** The connection's TLS socket itself (req.socket of an HTTP/2 request is a proxy made per stream). */
  readonly socket: TLSSocket | undefined;
  /** The connection's deadlines (src/connections): a stream is a request, from its head to its close. */
  readonly deadlines: ConnectionDeadlines | undefined;
  /** Streams the peer reset before they finished. */
  resets: number;
  /** Streams that closed without a reset. */
  finished: number;
  isCalmed: boolean;
  /** Its open streams, for the stall sweep. */
  readonly open: Set<CountedStream>;
}

type CountedStream = ServerHttp2Stream & { [SESSION_COUNTS]?: SessionCounts; [BUFFERED_AT_SWEEP]?: number; [HEARS_DRAIN]?: boolean };

export interface ViewerH2Guard {
  /**
   * Watches a new session's streams: counts resets against finished streams, and tells the
   * connection's deadlines when each stream (a request) starts and ends.
   */
  watch(session: ServerHttp2Session, connection?: { socket: TLSSocket; deadlines: ConnectionDeadlines }): void;
  /** True (and the stream refused) for a request on a session the guard has closed: no work starts for it. */
  refuses(req: { httpVersionMajor: number }): boolean;
  /** The same, for a stream served without Node's compatibility request. */
  refusesStream(stream: ServerHttp2Stream): boolean;
}

/**
 * @example
 * const guard = createViewerH2Guard(log, { stalledStreamMs: 120_000 });
 * server.on("session", (session) => guard.watch(session));
 * http2.createSecureServer({ ...VIEWER_H2_OPTIONS }, (req, res) => guard.refuses(req) || handler(req, res));
 */
export function createViewerH2Guard(log: Logger, limits: { stalledStreamMs: number }): ViewerH2Guard {
  function calm(counts: SessionCounts): void {
    if (counts.isCalmed) return;
    counts.isCalmed = true;
    const { session, resets, finished } = counts;
    log.warn({ remote: session.socket?.remoteAddress, resets, finished }, "viewer HTTP/2 session closed: it resets streams instead of letting them finish (rapid reset)");
    // Counted at each stream's 'close', which may come after Node itself ended the session (its own limits).
    if (session.destroyed) return;
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
    // Destroyed on the next turn: from inside nghttp2's read the GOAWAY would never be written.
    setImmediate(() => session.destroy(new ViewerSessionFloodError(resets, finished), NGHTTP2_ENHANCE_YOUR_CALM));
  }

  // A viewer that never opens a stream's flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0, no
  // WINDOW_UPDATE) and sends a PING now and then kept the stream, its slot of the 128 and what its
  // response holds (a cache fill's reader, an origin request) for ever: the socket is never silent, so
  // the connection's stalled deadline never fires, and Node's own stream timeout counts any frame the session sends (the
  // PING's answer included) as the stream's progress. So each session sweeps its streams every
  // stalledStreamMs: one whose response bytes sat buffered, not one of them sent, since the last sweep
  // (no 'drain', no fewer bytes waiting) is reset with CANCEL. A response that moves at all is never
  // cut (as nginx's send_timeout, the deadline is on silence, not on a rate).
  function sweep(counts: SessionCounts): void {
    for (const stream of counts.open) {
      const buffered = stream.bufferSize;
      const before = stream[BUFFERED_AT_SWEEP];
      if (buffered > 0 && before !== undefined && buffered >= before) {
        log.info({ remote: counts.socket?.remoteAddress, bufferedBytes: buffered, stalledMs: limits.stalledStreamMs }, "viewer HTTP/2 stream reset: its response made no progress (the viewer does not read, or keeps its flow-control window closed)");
        counts.open.delete(stream);
        stream.close(NGHTTP2_CANCEL);
        continue;
      }
      // A 'drain' before the next sweep is progress: listened for once a stream has bytes waiting at a sweep
      // (one listener at most, until it is heard; a stream that never waits never has one).
      if (buffered > 0 && stream[HEARS_DRAIN] !== true) {
        stream[HEARS_DRAIN] = true;
        stream.once("drain", onDrain);
      }
      stream[BUFFERED_AT_SWEEP] = buffered > 0 ? buffered : undefined;
    }
  }
  function onDrain(this: CountedStream): void {
    this[BUFFERED_AT_SWEEP] = undefined;
    this[HEARS_DRAIN] = false;
  }
  // The counts travel on each stream: by its 'close' the stream no longer knows its session. One
  // listener, on 'close', for every stream (the deadlines' included): no closures per stream, and no
  // listener for 'aborted' or 'drain' (their listener lists were about 700 of an HTTP/2 hit's 11,000 bytes allocated).
  function onClose(this: CountedStream): void {
    const counts = this[SESSION_COUNTS] as SessionCounts;
    counts.open.delete(this);
    // Node sets `aborted` with the 'aborted' event, before 'close': a stream the peer reset counts against those that finished.
    if (this.aborted) {
      counts.resets += 1;
      if (counts.resets - counts.finished > RESETS_OWED_LIMIT) calm(counts);
    } else {
      counts.finished += 1;
    }
    counts.deadlines?.requestEnded();
  }

  return {
    watch(session, connection) {
      const counts: SessionCounts = { session, socket: connection?.socket, deadlines: connection?.deadlines, resets: 0, finished: 0, isCalmed: false, open: new Set() };
      // One timer per session (not per stream); it keeps no process alive, and goes with the session.
      const sweeper = setInterval(() => counts.open.size > 0 && sweep(counts), limits.stalledStreamMs).unref();
      session.once("close", () => clearInterval(sweeper));
      // A stream exists once its HEADERS (and CONTINUATIONs) are complete: that is the request head.
      // Before http2's own listener, which emits the request: the handler finds the counts (and socket) on its stream.
      session.prependListener("stream", (stream: CountedStream) => {
        counts.deadlines?.requestStarted();
        stream[SESSION_COUNTS] = counts;
        stream.on("close", onClose);
        counts.open.add(stream);
      });
      session.once("error", (error: Error & { code?: string }) => {
        if (counts.isCalmed) return;
        // A protocol failure (a flood Node or nghttp2 stopped) is worth an operator's eye; a peer's TCP reset is not.
        const level = error.code?.startsWith("ERR_HTTP2_") ? "info" : "debug";
        log[level]({ remote: session.socket?.remoteAddress, error: { code: error.code, message: error.message } }, "viewer HTTP/2 session failed");
      });
    },
    refuses(req) {
      if (req.httpVersionMajor !== 2) return false;
      return this.refusesStream((req as Http2ServerRequest).stream);
    },
    refusesStream(stream) {
      if (!(stream as CountedStream)[SESSION_COUNTS]?.isCalmed) return false;
      // The refusal closes the stream with an error code, which Node emits as 'error': heard here, not thrown.
      stream.on("error", ignoreStreamError);
      stream.close(NGHTTP2_REFUSED_STREAM);
      return true;
    },
  };
}

function ignoreStreamError(): void {}

/** The TLS socket of an HTTP/2 request's connection, when the guard watches its session with one; else undefined. */
export function viewerH2SocketOf(req: { stream: ServerHttp2Stream }): TLSSocket | undefined {
  return (req.stream as CountedStream)[SESSION_COUNTS]?.socket;
}

/** The deadlines of an HTTP/2 stream's connection, when the guard watches its session with them; else undefined. */
export function viewerH2DeadlinesOf(stream: ServerHttp2Stream): ConnectionDeadlines | undefined {
  return (stream as CountedStream)[SESSION_COUNTS]?.deadlines;
}
