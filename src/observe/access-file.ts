// The access log's own file, rolled over by size and period (pino-roll), batched as stdout is and written synchronously; one file per process, so that no two processes write one file.
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, extname, join } from "node:path";
import { AccessLogFileError } from "../errors.ts";
import { sonicBoomTarget } from "./batch-targets.ts";
import type { SonicBoomStream } from "./batch-targets.ts";
import { createBatchedDestination } from "./logger.ts";
import type { BatchedDestination } from "./logger.ts";

export interface AccessFileSettings {
  /** Absolute path as configured, e.g. /var/log/moat/access.log. */
  path: string;
  rotateBytes: number;
  frequency: "daily" | "hourly";
  /** Rolled files kept besides the one being written. */
  keep: number;
}

/** An open access-log file: lines go in through `destination`; `close` writes what waits and closes the file. */
export interface AccessFile {
  readonly destination: BatchedDestination;
  /** The file being written now (the numbered name pino-roll gave it). */
  currentFile(): string;
  close(): Promise<void>;
}

// Access lines name viewers' addresses and certificates, not secrets: readable by the log shipper's group, no one else.
export const ACCESS_FILE_MODE = 0o640;

interface RollingStream extends SonicBoomStream {
  readonly file: string;
  end(): void;
  once(event: "close" | "error", listener: (error?: Error) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "write", listener: (bytes: number) => void): unknown;
}

type PinoRoll = (options: Record<string, unknown>) => Promise<RollingStream>;

/**
 * The file a process writes: the configured path as it is for a lone process, `<stem>-w<N><ext>` for worker N (two
 * processes appending to one file would interleave partial lines, and each would roll it on its own count). pino-roll
 * then numbers it: access.1.log, access.2.log; access-w1.1.log for worker 1. A dash, not a dot: pino-roll takes what
 * follows a name's last dot for its extension, and tells its own files from others by that name.
 * @example
 * accessFileBase("/var/log/moat/access.log", 2); // "/var/log/moat/access-w2.log"
 */
export function accessFileBase(path: string, worker: number | undefined): string {
  if (worker === undefined || worker === 0) return path;
  const extension = extname(path);
  return join(dirname(path), `${basename(path, extension)}-w${worker}${extension}`);
}

/**
 * Opens (creating its directory) the access log's file for this process.
 * @example
 * const file = await openAccessFile({ path: "/var/log/moat/access.log", rotateBytes: 100 * 1024 ** 2, frequency: "daily", keep: 7 }, undefined);
 * const access = createAccessLog(log, file.destination);
 */
export async function openAccessFile(settings: AccessFileSettings, worker: number | undefined): Promise<AccessFile> {
  const base = accessFileBase(settings.path, worker);
  let stream: RollingStream;
  try {
    await mkdir(dirname(base), { recursive: true, mode: 0o750 });
    const pinoRoll = createRequire(import.meta.url)("pino-roll") as PinoRoll;
    // pino-roll splits the name at its last dot and numbers it there: access.log → access.1.log (.log when there is none).
    stream = await pinoRoll({
      file: base,
      size: `${settings.rotateBytes}b`,
      frequency: settings.frequency,
      // Files of an earlier run count too: a restart does not leave its rolled files behind for ever.
      limit: { count: settings.keep, removeOtherLogFiles: true },
      mode: ACCESS_FILE_MODE,
      // A batch is one write(2) into the page cache, on the main thread: an asynchronous write handed each batch to a
      // libuv pool thread, which cost more than the copy (docs/explanation/performance.md, "The access log").
      sync: true,
      contentMode: "buffer",
    });
  } catch (error) {
    throw new AccessLogFileError(settings.path, (error as Error).message, error);
  }
  // A full disk or a removed directory must not take the edge down: it says so, once per failure, on stderr.
  stream.on("error", (error) => process.stderr.write(`moat: the access log file ${stream.file} could not be written: ${error.message}\n`));
  const destination = createBatchedDestination(sonicBoomTarget(stream));
  const onExit = () => {
    try {
      destination.flushSync();
    } catch {
      // The file is gone: nowhere left to write.
    }
  };
  process.on("exit", onExit);
  return {
    destination,
    currentFile: () => stream.file,
    close: () =>
      new Promise<void>((resolve) => {
        process.off("exit", onExit);
        destination.flushSync();
        stream.once("close", () => resolve());
        stream.end();
      }),
  };
}
