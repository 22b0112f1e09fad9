// Log lines for connections closed by policy (deadlines, caps, failed handshakes that carry no certificate), at most one per address and reason per window: a flood cannot flood the log.
import type { Logger } from "../observe/index.ts";

export interface ConnectionLog {
  /** Logs that the listener closed a connection from `address` for `reason`, unless it did so for the same address and reason in this window. */
  closed(reason: string, address: string, fields?: Record<string, unknown>): void;
  /**
   * Logs a refused handshake as `message`, at most once per window for the same address, reason and `distinct`
   * (the SNI and the certificate sent: a flood repeats them, two viewers behind one address do not). What was
   * suppressed is counted and written, as for closed().
   */
  refused(message: string, reason: string, address: string, fields: Record<string, unknown>, distinct?: string): void;
  /** Writes the counts of lines suppressed so far and stops the window timer. */
  stop(): void;
}

export interface ConnectionLogOptions {
  /** Which listener: `viewers`, `guard`, `enrol`. */
  listener: string;
  /** Default 10 s. */
  windowMs?: number;
  /** Addresses remembered per window; past it, lines are counted together (default 10 000). */
  maxAddresses?: number;
}

interface Window {
  suppressed: number;
}

/**
 * @example
 * const connectionLog = createConnectionLog(log, { listener: "viewers" });
 * connectionLog.closed("first-byte-timeout", "203.0.113.7");
 */
export function createConnectionLog(log: Logger, options: ConnectionLogOptions): ConnectionLog {
  const windowMs = options.windowMs ?? 10_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const seen = new Map<string, Window & { reason: string; remote: string }>();
  let overflow = 0;
  const flush = () => {
    for (const entry of seen.values()) {
      if (entry.suppressed > 0) log.warn({ reason: entry.reason, remote: entry.remote, listener: options.listener, suppressed: entry.suppressed, windowMs }, "connection log lines suppressed");
    }
    if (overflow > 0) log.warn({ listener: options.listener, suppressed: overflow, windowMs }, "connection log lines suppressed (too many addresses)");
    seen.clear();
    overflow = 0;
  };
  const isFirstInWindow = (key: string, reason: string, remote: string): boolean => {
    const entry = seen.get(key);
    if (entry) {
      entry.suppressed++;
      return false;
    }
    if (seen.size >= maxAddresses) {
      overflow++;
      return false;
    }
    seen.set(key, { reason, remote, suppressed: 0 });
    return true;
  };
  const timer = setInterval(flush, windowMs);
  timer.unref();
  return {
    closed(reason, address, fields = {}) {
      if (isFirstInWindow(`${reason} ${address}`, reason, address)) log.info({ reason, remote: address, listener: options.listener, ...fields }, "connection closed");
    },
    refused(message, reason, address, fields, distinct = "") {
      if (isFirstInWindow(`${reason} ${address} ${distinct}`, reason, address)) log.info({ reason, remote: address, listener: options.listener, ...fields }, message);
    },
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
