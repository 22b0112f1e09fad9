// Schemas for the config's scalar fields (ids, durations, ports, hostnames), each with a message that says what it expects.

import { isIP } from "node:net";
import { z } from "zod";
import { InvalidDurationError } from "../errors.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { describeValue } from "./issues.ts";
import { aliasProblem, ID, ID_RULE, isHostname, isServerName, MAX_FILE_PATH_LENGTH, MAX_URL_PATH_LENGTH, textProblem } from "./names.ts";
import { parseOriginUrl } from "./origin-url.ts";

/** A string schema that also passes `problemOf`, which names what is wrong or returns null. */
export function checkedString(problemOf: (value: string) => string | null) {
  return z.string().superRefine((value, ctx) => {
    const problem = problemOf(value);
    if (problem !== null) ctx.addIssue({ code: "custom", message: `${problem} (got ${describeValue(value)})`, input: value });
  });
}

/** A list whose entries must not repeat; each repeat is reported at its own index. */
export function uniqueList<Item extends z.ZodType>(item: Item) {
  return z.array(item).superRefine((list, ctx) => {
    const firstIndex = new Map<unknown, number>();
    list.forEach((value, index) => {
      const first = firstIndex.get(value);
      if (first === undefined) firstIndex.set(value, index);
      else ctx.addIssue({ code: "custom", path: [index], message: `duplicate ${describeValue(value)} (also at [${first}])`, input: value });
    });
  });
}

export const id = checkedString((value) => (ID.test(value) ? null : ID_RULE));

/** A file or directory: not empty, at most PATH_MAX, no control characters (a NUL would cut it short where it is opened). */
export const filePath = checkedString((value) => {
  if (value === "") return "must not be empty";
  // A PEM block pasted where its file's path goes has its own, better message (document-paths.ts, the loader's read).
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(value)) return null;
  return textProblem(value, MAX_FILE_PATH_LENGTH);
});

/** A URL path a behavior or an invalidation names: printable, at most MAX_URL_PATH_LENGTH characters. */
export function urlPathProblem(value: string): string | null {
  return textProblem(value, MAX_URL_PATH_LENGTH);
}

export const alias = checkedString(aliasProblem);

export const trustDomain = checkedString((value) =>
  isHostname(value) ? null : "must be a DNS name such as moat.internal (it goes into spiffe://<trustDomain>/...)",
);

export const serverName = checkedString((value) =>
  isServerName(value) ? null : "must be a hostname or an IPv4 address to verify the origin's certificate against",
);

export const listenHost = checkedString((value) =>
  isIP(value) !== 0 || isHostname(value) ? null : "must be an IP address or a hostname to listen on, such as 0.0.0.0, :: or 127.0.0.1",
);

export const originUrl = checkedString((value) => {
  const result = parseOriginUrl(value);
  return result.ok ? null : result.problem;
});

// 0 asks the OS for a free port (tests, sidecars that report their port): the edge logs the one it got.
export const port = z.int().min(0).max(65535);

/** A port, or off (also false or null) to disable it. */
export const optionalPort = z.union([port, z.literal(["off", false]), z.null()], {
  error: (issue) => `must be a port number from 0 to 65535, or off (got ${describeValue(issue.input)})`,
});

export const statusCode = z.int().superRefine((code, ctx) => {
  if (code < 400 || code > 599) {
    ctx.addIssue({ code: "custom", message: `must be an HTTP error status from 400 to 599 (got ${code})`, input: code });
  }
});

/** A whole number between `bounds.min` and `bounds.max` inclusive (a count of connections). */
export function count(bounds: { readonly min: number; readonly max: number }) {
  return z.int({ error: (issue) => `must be a whole number from ${bounds.min} to ${bounds.max} (got ${describeValue(issue.input)})` })
    .min(bounds.min, { error: (issue) => `must be at least ${bounds.min} (got ${describeValue(issue.input)})` })
    .max(bounds.max, { error: (issue) => `must be at most ${bounds.max} (got ${describeValue(issue.input)})` });
}

/** What `parseDuration` accepts, for the JSON Schema of a duration field. */
const DURATION_PATTERN = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$";

/** A duration such as "5s", in milliseconds, between `bounds.min` and `bounds.max` inclusive. */
export function duration(bounds: DurationBounds) {
  const needsUnit = (issue: { input: unknown }) =>
    typeof issue.input === "number" ? `a duration needs a unit, as in "${issue.input}s" (got ${issue.input})` : undefined;
  return z.string({ error: needsUnit }).transform((text, ctx) => {
    const result = boundedDuration(text, bounds);
    if (typeof result === "number") return result;
    ctx.addIssue({ code: "custom", message: `${result} (got ${describeValue(text)})`, input: text });
    return z.NEVER;
    // Not JSON Schema's "duration" format: that one is ISO 8601 ("PT5S"), which clients generated from the
    // OpenAPI document would check for and refuse "5s" by.
  }).meta({ format: "moat-duration", pattern: DURATION_PATTERN });
}

interface DurationBounds {
  readonly min: number;
  readonly max: number;
}

/** The milliseconds, or what is wrong with the text. */
function boundedDuration(text: string, bounds: DurationBounds): number | string {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    if (error instanceof InvalidDurationError) return error.detail;
    throw error;
  }
  if (ms >= bounds.min && ms <= bounds.max) return ms;
  return `must be between ${formatDuration(bounds.min)} and ${formatDuration(bounds.max)}`;
}
