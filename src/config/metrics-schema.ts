// The `metrics` section of a config file: where the Prometheus endpoint listens, and the HOST:PORT form `moat start --metrics` shares.
import { isIP } from "node:net";
import { z } from "zod";
import { closedObject } from "./closed-object.ts";

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

const listenError = "must be HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464) or a port (on 127.0.0.1); 0 takes a free port";

export const metricsSection = closedObject({
  /** Checked here, parsed again by normalise (a schema with a transform has no JSON Schema for the admin API). */
  // A bare port is a number in YAML (`listen: 9464`).
  listen: z.union([z.string(), z.number()], { error: listenError }).refine((value) => parseListenAddress(String(value)) !== undefined, { error: listenError }),
});
