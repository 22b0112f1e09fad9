// The connection deadline and cap flags that `moat guard` and `moat enrol serve` share, read into ConnectionLimits over a listener's defaults.
import { parseDuration } from "../config/index.ts";
import type { ConnectionLimits } from "../connections/index.ts";
import { CliUsageError } from "../errors.ts";

/** parseCliArgs options for the flags; spread into a command's own. */
export const CONNECTION_FLAGS = {
  "handshake-timeout": { type: "string" },
  "first-byte-timeout": { type: "string" },
  "request-head-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "max-connections": { type: "string" },
  "max-connections-per-address": { type: "string" },
} as const;

type FlagValues = Partial<Record<keyof typeof CONNECTION_FLAGS, string>>;

/**
 * @example
 * connectionLimits("guard", values, CONNECTION_DEFAULTS.guardConnections);
 */
export function connectionLimits(command: string, values: FlagValues, defaults: ConnectionLimits): ConnectionLimits {
  const duration = (flag: keyof typeof CONNECTION_FLAGS, fallback: number) => {
    const text = values[flag];
    if (text === undefined) return fallback;
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      throw new CliUsageError(`${command}: --${flag}: ${(error as Error).message}`);
    }
    if (ms < 1 || ms > 600_000) throw new CliUsageError(`${command}: --${flag} ${text} must be between 1ms and 10m.`);
    return ms;
  };
  const count = (flag: keyof typeof CONNECTION_FLAGS, fallback: number) => {
    const text = values[flag];
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < 1 || value > 1_000_000) throw new CliUsageError(`${command}: --${flag} ${text} must be a whole number from 1 to 1000000.`);
    return value;
  };
  return {
    handshakeMs: duration("handshake-timeout", defaults.handshakeMs),
    firstByteMs: duration("first-byte-timeout", defaults.firstByteMs),
    requestHeadMs: duration("request-head-timeout", defaults.requestHeadMs),
    idleMs: duration("idle-timeout", defaults.idleMs),
    maxConnections: count("max-connections", defaults.maxConnections),
    maxConnectionsPerAddress: count("max-connections-per-address", defaults.maxConnectionsPerAddress),
  };
}
