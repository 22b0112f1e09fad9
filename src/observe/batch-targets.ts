// Where batches of log lines are written: a file (or /dev/null) synchronously, a pipe or a socket without ever blocking (a bounded queue that drops when its reader falls behind), anything else through sonic-boom.
import { constants, fstatSync, readFileSync, writeSync } from "node:fs";
import { isatty } from "node:tty";

/** Takes whole batches of log lines (createBatchedDestination in logger.ts) and writes them, in order. */
export interface BatchTarget {
  /**
   * One batch: `lines` whole lines, UTF-8. True when the target keeps `bytes` (queued, or written later): the
   * caller then gathers the next batch in a new buffer; false when they are written or dropped, and the buffer
   * can be used again (no allocation, no fresh pages to fault in, per batch).
   */
  write(bytes: Buffer, lines: number): boolean;
  /**
   * At process exit (nothing asynchronous finishes any more): writes what the target holds, then `rest` (the
   * batch that was still gathering), synchronously.
   */
  flushSync(rest: Buffer | undefined, lines: number): void;
}

/** What kind of destination a descriptor is, for the way it is written. */
export type DescriptorKind = "file" | "pipe" | "other";

/**
 * "file": a regular file, or a device that is not a terminal (/dev/null): a write returns once the bytes are in
 * the page cache, with no reader to wait for. "pipe": a pipe or a socket (journald, a container runtime, `| cat`),
 * whose reader may be slow. "other": a terminal, or what could not be told.
 */
export function descriptorKind(fd: number): DescriptorKind {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() || (stat.isCharacterDevice() && !isatty(fd))) return "file";
    if (stat.isFIFO() || stat.isSocket()) return "pipe";
    return "other";
  } catch {
    return "other";
  }
}

/**
 * True when `fd`'s open file is in non-blocking mode (Linux: /proc/self/fdinfo); false when it is not, or cannot
 * be told (another system): then a write to a full pipe would stall the event loop.
 */
export function isNonBlocking(fd: number): boolean {
  try {
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
    return flags !== undefined && (Number.parseInt(flags, 8) & constants.O_NONBLOCK) !== 0;
  } catch {
    return false;
  }
}

/** Tells once per failure (not per batch) that a destination could not be written; `undefined` once it writes again. */
type FailureReport = (error: Error | undefined) => void;

function reportOnStderr(what: string): FailureReport {
  let isFailing = false;
  return (error) => {
    if (error === undefined) {
      isFailing = false;
      return;
    }
    if (isFailing) return;
    isFailing = true;
    try {
      process.stderr.write(`moat: ${what} could not be written (${error.message}); log lines are lost until it can be\n`);
    } catch {
      // stderr is gone too.
    }
  };
}

/**
 * Each batch written at once with write(2) on the main thread: to a regular file that is one copy into the page
 * cache (Node's process.stdout writes files synchronously too). No thread, no callback, no copy of the batch: an
 * asynchronous write hands each batch to a libuv pool thread, and on a busy 2-core machine that hand-off cost
 * as much as building the lines. A failed write (a full disk) loses its batch, said once on stderr.
 * @example
 * const target = createSyncTarget(1, "stdout"); // when descriptorKind(1) === "file"
 */
export function createSyncTarget(fd: number, what: string): BatchTarget {
  const report = reportOnStderr(what);
  const writeAll = (bytes: Buffer): false => {
    try {
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
      report(undefined);
    } catch (error) {
      report(error as Error);
    }
    return false;
  };
  return {
    write: writeAll,
    flushSync(rest) {
      if (rest !== undefined) writeAll(rest);
    },
  };
}

export interface PipeTargetOptions {
  /**
   * Bytes that may wait for a slow reader; a batch that would go past them is dropped whole and counted.
   * Default 16 MiB: about 25,000 access lines, several seconds of a busy edge's lines.
   */
  maxQueuedBytes?: number;
  /** Told how many lines were dropped, once the reader has caught up with what waited. */
  onDropped?(lines: number): void;
  /** At exit, how long what waits may take to be written to a reader that takes nothing; default 5 s. */
  exitWaitMs?: number;
  /** True while other processes write to the same pipe (a worker group): writes are cut at line ends, PIPE_BUF at most. */
  isShared?(): boolean;
}

/** POSIX's PIPE_BUF on Linux: a write to a pipe of at most this many bytes is never interleaved with another's. */
export const PIPE_BUF = 4096;

/** Where the chunk of `bytes` from `start` ends: after its last whole line within PIPE_BUF, or after a longer first line. */
export function atomicChunkEnd(bytes: Buffer, start: number): number {
  if (bytes.length - start <= PIPE_BUF) return bytes.length;
  const lastNewline = bytes.lastIndexOf(10, start + PIPE_BUF - 1);
  if (lastNewline >= start) return lastNewline + 1;
  // A line longer than PIPE_BUF cannot be written atomically: it goes whole, in one write.
  const lineEnd = bytes.indexOf(10, start + PIPE_BUF);
  return lineEnd === -1 ? bytes.length : lineEnd + 1;
}

export const PIPE_QUEUE_MAX_BYTES = 16 * 1024 * 1024;
const EXIT_WAIT_MS = 5_000;
// A full pipe is tried again after 1 ms, then 2, 4… up to 64 ms while its reader takes nothing; 1 ms again after any progress.
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 64;

/**
 * A pipe or a socket in non-blocking mode (isNonBlocking), written from the main thread with write(2): a batch
 * goes out at once when the reader keeps up (one syscall, no pool thread), and what the pipe cannot take yet waits
 * in a queue, tried again on a timer, in order. The queue is bounded: a reader that falls more than
 * `maxQueuedBytes` behind (a stalled journald, a paused `docker logs` consumer) loses whole batches, counted and
 * reported through `onDropped` once the queue has emptied; the edge never blocks on it and never grows without
 * bound. A reader that went away (EPIPE) makes every later batch dropped, said once on stderr.
 *
 * The retry timer does not keep the process alive; at exit, flushSync writes what waits, waiting up to
 * `exitWaitMs` in all for a reader that takes nothing. A timer, not Node's own stream on the descriptor (libuv
 * would wait for the pipe to be writable): what a libuv stream has queued cannot be seen or written at exit, so a
 * process.exit could cut a line or drop a batch before a later one; here every byte's place is known.
 * @example
 * const target = createPipeTarget(1, { onDropped: (lines) => log.warn({ dropped: lines }, "log lines dropped") });
 */
export function createPipeTarget(fd: number, options: PipeTargetOptions = {}): BatchTarget {
  const maxQueuedBytes = options.maxQueuedBytes ?? PIPE_QUEUE_MAX_BYTES;
  const report = reportOnStderr("the log's pipe");
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let droppedLines = 0;
  let isBroken = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | undefined;

  /** Bytes of `bytes` the pipe took now: 0 when it is full. */
  const writeOnce = (bytes: Buffer): number => {
    try {
      return writeSync(fd, bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") return 0;
      throw error;
    }
  };
  // Shared with other processes (workers on one stdout): each write(2) is whole lines of at most PIPE_BUF bytes,
  // which a pipe takes whole or not at all, so that no other process's batch lands inside a line.
  const writeSome = (bytes: Buffer): number => {
    if (bytes.length <= PIPE_BUF || options.isShared?.() !== true) return writeOnce(bytes);
    let offset = 0;
    while (offset < bytes.length) {
      const end = atomicChunkEnd(bytes, offset);
      const written = writeOnce(bytes.subarray(offset, end));
      offset += written;
      if (offset < end) break;
    }
    return offset;
  };

  const broke = (error: unknown) => {
    isBroken = true;
    queue.length = 0;
    queuedBytes = 0;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    report(error as Error);
  };

  /** Writes from the queue's head until the pipe is full; true when the queue is empty. */
  const writeQueue = (): boolean => {
    let hasProgressed = false;
    while (queue.length > 0) {
      const head = queue[0] as Buffer;
      const written = writeSome(head);
      if (written > 0) hasProgressed = true;
      queuedBytes -= written;
      if (written === head.length) {
        queue.shift();
        continue;
      }
      // A partial write: the rest of the batch goes next, so that no line is ever cut.
      queue[0] = head.subarray(written);
      break;
    }
    retryMs = hasProgressed ? RETRY_MIN_MS : Math.min(retryMs * 2, RETRY_MAX_MS);
    return queue.length === 0;
  };

  const retry = () => {
    timer = undefined;
    try {
      if (!writeQueue()) {
        timer = setTimeout(retry, retryMs).unref();
        return;
      }
    } catch (error) {
      broke(error);
      return;
    }
    if (droppedLines > 0) {
      const lines = droppedLines;
      droppedLines = 0;
      options.onDropped?.(lines);
    }
  };

  const enqueue = (bytes: Buffer): true => {
    queue.push(bytes);
    queuedBytes += bytes.length;
    timer ??= setTimeout(retry, retryMs).unref();
    return true;
  };

  return {
    write(bytes, lines) {
      if (isBroken) return false;
      try {
        // What waits goes first: a new batch is written now only behind it.
        if (queue.length > 0 && !writeQueue()) {
          if (queuedBytes + bytes.length <= maxQueuedBytes) return enqueue(bytes);
          droppedLines += lines;
          return false;
        }
        const written = writeSome(bytes);
        if (written < bytes.length) {
          retryMs = RETRY_MIN_MS;
          return enqueue(bytes.subarray(written));
        }
      } catch (error) {
        broke(error);
      }
      return false;
    },
    flushSync(rest) {
      if (isBroken) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      if (rest !== undefined) {
        queue.push(rest);
        queuedBytes += rest.length;
      }
      const deadline = Date.now() + (options.exitWaitMs ?? EXIT_WAIT_MS);
      const pause = new Int32Array(new SharedArrayBuffer(4));
      try {
        while (!writeQueue()) {
          if (Date.now() >= deadline) return;
          // A synchronous sleep: at exit no event will come to wake anything.
          Atomics.wait(pause, 0, 0, retryMs);
        }
      } catch (error) {
        broke(error);
      }
    },
  };
}

/** pino's sonic-boom as the logger hands it over: the parts a target uses. */
export interface SonicBoomStream {
  write(bytes: Buffer): unknown;
  flushSync(): void;
  minLength: number;
  on(event: "write", listener: (bytes: number) => void): unknown;
}

/**
 * sonic-boom as a target: for the access log's rotated file (pino-roll, writing synchronously) and for a stdout
 * that is a terminal or could not be put in non-blocking mode (writing asynchronously).
 */
export function sonicBoomTarget(sonic: SonicBoomStream): BatchTarget {
  // Bytes handed over and not yet written (its 'write' event counts what went out): a buffer is sonic-boom's to
  // keep until they are all written; in synchronous mode that is by the time write returns.
  let unwritten = 0;
  sonic.on("write", (bytes) => {
    unwritten -= bytes;
  });
  return {
    write(bytes) {
      unwritten += bytes.length;
      sonic.write(bytes);
      return unwritten > 0;
    },
    flushSync(rest) {
      // At exit sonic-boom must only buffer what it is given (a write it started now would be lost), then write it
      // all synchronously, after what it already held.
      sonic.minLength = Number.MAX_SAFE_INTEGER;
      if (rest !== undefined) sonic.write(rest);
      sonic.flushSync();
    },
  };
}
