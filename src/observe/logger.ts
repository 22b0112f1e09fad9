// Structured logs (pino): one root logger per process, a child per part; never keys or whole certificates.
import { fstatSync } from "node:fs";
import { isatty } from "node:tty";
import { pino } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Set under `moat start` with workers: every line says which process wrote it (0: the primary, 1…N: the workers). */
  worker?: number;
}

/**
 * pino's isoTime, formatted once per millisecond: under load many lines share a millisecond, and a Date and its
 * ISO string per line were a visible part of an access line's cost.
 */
function createIsoTime(): () => string {
  let lastMs = -1;
  let field = "";
  return () => {
    const nowMs = Date.now();
    if (nowMs !== lastMs) {
      lastMs = nowMs;
      field = `,"time":"${new Date(nowMs).toISOString()}"`;
    }
    return field;
  };
}

/** `,"time":"…"` as pino's isoTime writes it, for now. */
export const isoTimeField = createIsoTime();

/**
 * @example
 * const log = createLogger({ level: "info" }).child({ part: "edge" });
 * log.info({ distribution: "shop" }, "listening");
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? "info",
    base: options.worker === undefined ? { service: "moat" } : { service: "moat", worker: options.worker },
    // Belt and braces: a field with one of these names never reaches a log line, whatever code logs it.
    redact: { paths: ["key", "keyPem", "*.key", "*.keyPem", "privateKey", "*.privateKey", "passphrase", "*.passphrase"], censor: "[redacted]" },
    timestamp: isoTimeField,
  };
  return pino(settings, options.destination ?? stdoutDestination());
}

// How long a line may wait for others before it is written, and how much is written at most in one go. An
// asynchronous write (to a pipe or a socket) wakes a libuv pool thread (sonic-boom writes with fs.write), and that
// wake, not the bytes, is a write's cost: about 0.4 ms of the main thread's CPU each on the 2-core test VM: at 6,000
// cache hits a second, 5 µs a request at 10 ms / 64 KiB, 1.4 µs at these (bench/profile-edge.ts, measured around
// the write). To a file a batch is written synchronously (stdoutDestination).
// Envoy flushes its access log every second; a tenth of that keeps `tail -f` close to live.
const FLUSH_AFTER_MS = 100;
export const FLUSH_AT_BYTES = 256 * 1024;

/** A destination that gathers lines and hands them on as one write; `flushSync` hands over what it holds at once. */
export interface BatchedDestination extends DestinationStream {
  flushSync(): void;
}

/** Where batches go: pino's sonic-boom in buffer mode, or a test's recorder. */
export interface BatchTarget {
  write(bytes: Buffer): unknown;
  flushSync(): void;
  minLength: number;
}

/**
 * Lines encoded into one buffer as they come and written to `target` (pino's asynchronous sonic-boom) as one write,
 * at 256 KiB or 100 ms after the first line waiting, whichever comes first: one write and one syscall per batch
 * instead of one per line. A line is copied into the batch when it is logged, so its string dies young: strings kept
 * in an array for 100 ms outlived one or two scavenges at a few thousand lines a second, and V8 copied each of them
 * between spaces and into the old generation (a fifth of the access log's cost, in `perf` under wrk).
 * The timer runs only while lines wait, and keeps the process alive until they are written.
 *
 * For operators: a line reaches stdout at most 100 ms after it was logged. A clean stop (SIGTERM, drained) writes
 * every line, in order; so does process.exit, which hands what waits to a synchronous write. A kill -9 loses at
 * most the last 100 ms of lines. A forced exit (a second signal, the drain limit) while a write to a stdout that is
 * not keeping up is still in flight may cut that write, as with pino's own asynchronous destination.
 */
export function createBatchedDestination(target: BatchTarget): BatchedDestination {
  // A new buffer per batch: the one handed over is the target's until its write completes. Room past the flush
  // mark, so that a line of up to 21 K characters is never split from the batch it comes after.
  const capacity = FLUSH_AT_BYTES + 64 * 1024;
  let batch = Buffer.allocUnsafeSlow(capacity);
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    const bytes = batch.subarray(0, used);
    batch = Buffer.allocUnsafeSlow(capacity);
    used = 0;
    target.write(bytes);
  };
  return {
    write(line: string) {
      // At most 3 bytes per UTF-16 unit: a line that might not fit goes after what waits, in a batch of its own if it
      // is larger than a batch.
      if (used + line.length * 3 > capacity) {
        flush();
        if (line.length * 3 > capacity) {
          target.write(Buffer.from(line, "utf8"));
          return;
        }
      }
      used += batch.write(line, used, "utf8");
      if (used >= FLUSH_AT_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
    flushSync() {
      // Nothing asynchronous finishes any more (process exit): sonic-boom must only buffer what it is given
      // (a write it started now would be lost), then write it all synchronously, after what it already held.
      target.minLength = Number.MAX_SAFE_INTEGER;
      flush();
      target.flushSync();
    },
  };
}

let stdout: BatchedDestination | undefined;

/**
 * Whether `fd` is a file or a device that is not a terminal (/dev/null): a write there returns once the bytes are
 * in the page cache, with no reader to wait for. A pipe, a socket (journald, a container runtime) or a terminal
 * can be slow to take bytes, and must never stall the event loop. Node's own process.stdout is synchronous for
 * files too.
 */
function takesSynchronousWrites(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFile() || (stat.isCharacterDevice() && !isatty(fd));
  } catch {
    return false;
  }
}

/**
 * One batched stdout per process, whatever the number of loggers: lines stay in the order they were logged, and
 * one exit hook hands over what is left.
 *
 * To a file (or /dev/null) a batch is written synchronously: an asynchronous write hands each batch to a libuv
 * pool thread, and on the busy 2-core VM that wake, sonic-boom's copy of the batch (it copies on Node ≥ 22.7) and
 * the completion cost as much as building the lines: at info, a 1 KiB hit cost 1.16× its CPU at warn with
 * asynchronous writes to /dev/null, 1.06× with synchronous ones (bench/profile-edge.ts, medians of 6 interleaved
 * rounds each; 1.20-1.22× before the access line was made leaner); a synchronous write of 256 KiB into the page cache is one copy. To a pipe, a socket or a terminal, writes
 * stay asynchronous.
 */
function stdoutDestination(): DestinationStream {
  if (stdout) return stdout;
  // pino registers this sonic-boom for its own synchronous flush on exit; the hook below runs either side of it.
  const sonic = pino.destination({ dest: 1, sync: takesSynchronousWrites(1), contentMode: "buffer" }) as unknown as BatchTarget;
  const batched = createBatchedDestination(sonic);
  process.on("exit", () => {
    try {
      batched.flushSync();
    } catch {
      // stdout is gone (a closed pipe): there is nowhere left to write.
    }
  });
  stdout = batched;
  return batched;
}
