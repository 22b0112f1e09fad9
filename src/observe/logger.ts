// Structured logs (pino): one root logger per process, a child per part; never keys or whole certificates.
import { pino } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/**
 * @example
 * const log = createLogger({ level: "info" }).child({ part: "edge" });
 * log.info({ distribution: "shop" }, "listening");
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? "info",
    base: { service: "moat" },
    // Belt and braces: a field with one of these names never reaches a log line, whatever code logs it.
    redact: { paths: ["key", "keyPem", "*.key", "*.keyPem", "privateKey", "*.privateKey", "passphrase", "*.passphrase"], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(settings, options.destination ?? stdoutDestination());
}

/**
 * pino's asynchronous stdout: lines written while a write is in flight go out together in the next one, so an
 * access line per request costs no syscall of its own under load, and a line still reaches stdout at once when the
 * edge is idle (no timer, no size to wait for). pino flushes what is left synchronously on process exit, a drained
 * SIGTERM included.
 */
function stdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}
