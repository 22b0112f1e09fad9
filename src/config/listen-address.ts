// The HOST:PORT form of a listen address, which `moat start --metrics` and the config's `metrics.listen` share; no schema here, so `moat start` parses its flag without loading zod.
import { isIP } from "node:net";

/** A listen address: a host (an IP address or a name; IPv6 in brackets) and a port, 0 for a free one. */
export interface ListenAddress {
  host: string;
  port: number;
}

const ADDRESS_PATTERN = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/;

/**
 * `HOST:PORT`, `[IPv6]:PORT` or a bare port (on 127.0.0.1); undefined when `text` is none of them.
 * @example
 * parseListenAddress("127.0.0.1:9464"); // { host: "127.0.0.1", port: 9464 }
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = ADDRESS_PATTERN.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  const host = (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, "");
  if (match[1]?.startsWith("[") && isIP(host) !== 6) return undefined;
  return { host, port };
}
