// The `metrics` section of a config file: where the Prometheus endpoint listens, and the HOST:PORT form `moat start --metrics` shares.
import { z } from "zod";
import { closedObject } from "./closed-object.ts";
import { parseListenAddress } from "./listen-address.ts";

export { parseListenAddress } from "./listen-address.ts";
export type { ListenAddress } from "./listen-address.ts";

const listenError = "must be HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464) or a port (on 127.0.0.1); 0 takes a free port";

export const metricsSection = closedObject({
  /** Checked here, parsed again by normalise (a schema with a transform has no JSON Schema for the admin API). */
  // A bare port is a number in YAML (`listen: 9464`).
  listen: z.union([z.string(), z.number()], { error: listenError }).refine((value) => parseListenAddress(String(value)) !== undefined, { error: listenError }),
});
