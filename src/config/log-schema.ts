// The `log` section of a config file (level, access log) and a distribution's own `accessLog`.
import { z } from "zod";
import { closedObject } from "./closed-object.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * `on` (one line per request, the default), `off`, or `{ sample: 0.1 }`: that share of requests, chosen at random,
 * gets a line (0 < sample ≤ 1). The lines are written at level info, so a level above info writes none.
 */
export const accessLog = z.union(
  [
    z.enum(["on", "off"]),
    closedObject({ sample: z.number({ error: "must be a number" }).gt(0, { error: "must be more than 0 (use accessLog: off for none)" }).max(1, { error: "must be at most 1 (every request)" }) }),
  ],
  { error: "must be on, off or { sample: 0.1 } (a share of requests between 0 and 1)" },
);

export const logSection = closedObject({
  level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).optional(),
  accessLog: accessLog.optional(),
});

/** The share of requests logged: 1 for on, 0 for off. */
export function accessLogSample(document: z.output<typeof accessLog> | undefined, inherited: number): number {
  if (document === undefined) return inherited;
  if (document === "on") return 1;
  if (document === "off") return 0;
  return document.sample;
}
