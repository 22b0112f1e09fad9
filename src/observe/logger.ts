// Structured logs (pino): one root logger per process, a child per part; never keys or whole certificates.
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
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
