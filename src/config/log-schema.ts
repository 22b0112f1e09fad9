// The `log` section of a config file (level, access log) and a distribution's own `accessLog`.
import { z } from "zod";
import { byteSize } from "./cache-schema.ts";
import { closedObject } from "./closed-object.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * `on` (one line per request, the default), `off`, or `{ sample: 0.1 }`: that share of requests, chosen at random,
 * gets a line (0 < sample ≤ 1). The lines are written at level info, so a level above info writes none.
 */
const sample = z.number({ error: "must be a number" }).gt(0, { error: "must be more than 0 (use accessLog: off for none)" }).max(1, { error: "must be at most 1 (every request)" });

export const accessLog = z.union([z.enum(["on", "off"]), closedObject({ sample })], { error: "must be on, off or { sample: 0.1 } (a share of requests between 0 and 1)" });

/** How the access log's file is rolled over: at a size, a period, or both; the newest `keep` rolled files are kept. */
const accessLogRotate = closedObject({
  size: byteSize(1024, 1024 ** 4).optional(),
  frequency: z.enum(["daily", "hourly"], { error: "must be daily or hourly" }).optional(),
  keep: z.number({ error: "must be a number" }).int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }).max(1000, { error: "must be at most 1000" }).optional(),
});

/** `log.accessLog`: a distribution's forms, plus where the lines go (`file`, `rotate`). */
export const logAccessLog = z.union(
  [
    z.enum(["on", "off"]),
    closedObject({ sample: sample.optional(), file: z.string({ error: "must be a file path" }).min(1, { error: "must not be empty" }).optional(), rotate: accessLogRotate.optional() }).refine((value) => value.rotate === undefined || value.file !== undefined, {
      message: "rotate needs a file: add file: /var/log/moat/access.log (without one, lines go to stdout and whatever collects it rotates them)",
      path: ["rotate"],
    }),
  ],
  { error: "must be on, off or { sample: 0.1 } (a share of requests between 0 and 1), with file: and rotate: to write the lines to a file of their own" },
);

export const logSection = closedObject({
  level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).optional(),
  accessLog: logAccessLog.optional(),
});

/** The share of requests logged: 1 for on (or an object without a sample), 0 for off. */
export function accessLogSample(document: { sample?: number } | "on" | "off" | undefined, inherited: number): number {
  if (document === undefined) return inherited;
  if (document === "on") return 1;
  if (document === "off") return 0;
  return document.sample ?? 1;
}

/** Rolled at this size when `rotate.size` is not given. */
export const ACCESS_LOG_ROTATE_SIZE = 100 * 1024 * 1024;
/** Rolled files kept when `rotate.keep` is not given. */
export const ACCESS_LOG_KEEP = 7;
