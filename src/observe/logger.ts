// Structured logs (pino): one root logger per process, a child per part; never keys or whole certificates.
import cluster from "node:cluster";
import { pino } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";
import { createPipeTarget, createSyncTarget, descriptorKind, isNonBlocking, sonicBoomTarget } from "./batch-targets.ts";
import type { BatchTarget, SonicBoomStream } from "./batch-targets.ts";

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Set under `moat start` with workers: every line says which process wrote it (0: the primary, 1…N: the workers). */
  worker?: number;
}

// "000Z\"" … "999Z\"": a line's milliseconds and the field's end, made once.
const MILLISECOND_ENDS: readonly string[] = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, "0")}Z"`);

/**
 * pino's isoTime with one Date.now per line: the ISO date and time up to the second are formatted once per second
 * (a Date and its toISOString, about 0.5 µs, were a visible part of an access line's cost when made per line), the
 * milliseconds appended from a table; the whole field is kept for the millisecond, which many lines share under load.
 */
function createIsoTime(): () => string {
  let lastMs = -1;
  let field = "";
  let secondMs = Number.NaN;
  let secondPrefix = "";
  return () => {
    const nowMs = Date.now();
    if (nowMs === lastMs) return field;
    lastMs = nowMs;
    const intoSecond = nowMs - secondMs;
    if (!(intoSecond >= 0 && intoSecond < 1000)) {
      secondMs = nowMs - (((nowMs % 1000) + 1000) % 1000);
      // "2026-12-06T16:10:32.000Z" less its "000Z".
      secondPrefix = `,"time":"${new Date(secondMs).toISOString().slice(0, -4)}`;
    }
    field = secondPrefix + (MILLISECOND_ENDS[nowMs - secondMs] as string);
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
  if (options.destination !== undefined) return pino(settings, options.destination);
  const out = stdoutDestination();
  const log = pino(settings, out.destination);
  out.reporter ??= log;
  return log;
}

// How long a line may wait for others before it is written, and how much is written at most in one go: one
// write (one syscall) per batch instead of one per line. Envoy flushes its access log every second; a tenth of
// that keeps `tail -f` close to live.
const FLUSH_AFTER_MS = 100;
export const FLUSH_AT_BYTES = 256 * 1024;

/** A destination that gathers lines and hands them on as one write; `flushSync` writes what it holds at once. */
export interface BatchedDestination extends DestinationStream {
  flushSync(): void;
}

/**
 * Lines encoded into one buffer as they come and handed to `target` (batch-targets.ts) as one batch, at 256 KiB
 * or 100 ms after the first line waiting, whichever comes first. A line is copied into the batch when it is
 * logged, so its string dies young: strings kept in an array for 100 ms outlived one or two scavenges at a few
 * thousand lines a second, and V8 copied each of them between spaces and into the old generation (a fifth of the
 * access log's cost, in `perf` under wrk). The timer runs only while lines wait, and keeps the process alive
 * until they are handed on.
 *
 * For operators: a line reaches stdout at most 100 ms after it was logged (when its reader keeps up). A clean
 * stop (SIGTERM, drained) writes every line, in order; so does process.exit, which writes what waits
 * synchronously. A kill -9 loses at most the last 100 ms of lines.
 */
export function createBatchedDestination(target: BatchTarget): BatchedDestination {
  // A new buffer per batch only when the target kept the last one (a pipe's queue, sonic-boom); room past the
  // flush mark, so that a line of up to 21 K characters is never split from the batch it comes after.
  const capacity = FLUSH_AT_BYTES + 64 * 1024;
  let batch = Buffer.allocUnsafeSlow(capacity);
  let used = 0;
  let lines = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    const bytes = batch.subarray(0, used);
    const count = lines;
    used = 0;
    lines = 0;
    if (target.write(bytes, count)) batch = Buffer.allocUnsafeSlow(capacity);
  };
  return {
    write(line: string) {
      // At most 3 bytes per UTF-16 unit: a line that might not fit goes after what waits, in a batch of its own if it
      // is larger than a batch.
      if (used + line.length * 3 > capacity) {
        flush();
        if (line.length * 3 > capacity) {
          target.write(Buffer.from(line, "utf8"), 1);
          return;
        }
      }
      used += batch.write(line, used, "utf8");
      lines++;
      if (used >= FLUSH_AT_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
    flushSync() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const rest = used === 0 ? undefined : batch.subarray(0, used);
      const count = lines;
      if (rest !== undefined) batch = Buffer.allocUnsafeSlow(capacity);
      used = 0;
      lines = 0;
      target.flushSync(rest, count);
    },
  };
}

/** The process's stdout as one batched destination, and where it tells that its reader fell behind. */
interface Stdout {
  destination: BatchedDestination;
  /** Set by the first logger made: a pipe's dropped lines are reported through it. */
  reporter: Logger | undefined;
}

let stdout: Stdout | undefined;

// A worker, or a primary that forked workers: they all write to the one stdout they inherited.
const sharesStdout = (): boolean => cluster.isWorker || Object.keys(cluster.workers ?? {}).length > 0;

/**
 * The target for fd 1 (batch-targets.ts). A file or /dev/null is written synchronously. A pipe or a socket is
 * written without blocking: Node's own process.stdout puts such a descriptor in non-blocking mode (libuv), and
 * the pipe target takes over from there; if it is not (a system without /proc), pino's asynchronous
 * destination, as for a terminal.
 */
function stdoutTarget(onDropped: (lines: number) => void): BatchTarget {
  const kind = descriptorKind(1);
  if (kind === "file") return createSyncTarget(1, "stdout");
  if (kind === "pipe") {
    // Read for its effect: the getter opens fd 1 as a libuv stream, which sets O_NONBLOCK on it.
    void process.stdout;
    if (isNonBlocking(1)) return createPipeTarget(1, { onDropped, isShared: sharesStdout });
  }
  // pino registers this sonic-boom for its own synchronous flush on exit; the hook below runs either side of it.
  return sonicBoomTarget(pino.destination({ dest: 1, sync: false, contentMode: "buffer" }) as unknown as SonicBoomStream);
}

/**
 * One batched stdout per process, whatever the number of loggers: lines stay in the order they were logged, and
 * one exit hook writes what is left.
 *
 * Why not pino's sonic-boom for a file or a pipe: its asynchronous writes hand each batch to a libuv pool thread,
 * and on the busy 2-core VM that wake, sonic-boom's copy of the batch and the completion cost as much as building
 * the lines (docs/explanation/performance.md, "The access log").
 */
function stdoutDestination(): Stdout {
  if (stdout) return stdout;
  const destination = createBatchedDestination(stdoutTarget((lines) => stdout?.reporter?.warn({ dropped: lines }, "log lines dropped: stdout's reader fell behind")));
  process.on("exit", () => {
    try {
      destination.flushSync();
    } catch {
      // stdout is gone (a closed pipe): there is nowhere left to write.
    }
  });
  stdout = { destination, reporter: undefined };
  return stdout;
}
