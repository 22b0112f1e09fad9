// The access log: one JSON line per request, serialised here rather than by pino, in the line format pino writes.
import { pino } from "pino";
import type { DestinationStream, Logger } from "pino";
import { isoTimeField } from "./logger.ts";

/** Writes access lines to a logger's destination, with its bindings, at level info. */
export interface AccessLog {
  /** False above level info: the caller computes nothing for a line that is not written. */
  isEnabled(): boolean;
  /**
   * One line: `level`, `time`, the logger's bindings, then `head`'s fields and `tail`'s in their order (a field
   * that is undefined or a function is left out, a field in both is written once, with `head`'s
   * value unless that is undefined), then `"msg":"request"`. Strings are escaped as JSON.stringify does, lone surrogates included.
   * `fragment`, JSON fields already serialised (`,"name":value…`, made once per connection), goes between the two.
   */
  write(head: Record<string, unknown>, tail?: Record<string, unknown>, fragment?: string): void;
  /**
   * One line whose fields the caller has already serialised (`,"name":value…`, names and strings escaped, e.g. with
   * jsonString and jsonFields): `level`, `time` and the bindings go before them, `"msg":"request"` after. The request
   * pipeline's path: one string built in one place, with no object per line and no per-field dispatch for fields
   * whose type it knows.
   */
  writeFields(fields: string): void;
}

const LINE_END = ',"msg":"request"}\n';

/**
 * The access log of `log`: its destination (or `destination`) and bindings, without its redaction pass (an access line's fields are
 * names the pipeline sets, never a key). A line costs less than half of what pino's `info` did: the bindings are
 * serialised once here, the time once per millisecond, and a field's name and value with no per-field lookups
 * (pino's serializers, stringifiers, hasOwnProperty); pino's line format is kept, so readers see no change.
 * @example
 * const access = createAccessLog(log);
 * if (access.isEnabled()) access.write({ requestId, status }, stageFields);
 */
export function createAccessLog(log: Logger, destination?: DestinationStream): AccessLog {
  // The access log's own file when configured (access-file.ts); else the logger's destination, stdout.
  const stream = destination ?? ((log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream);
  let bindings = "";
  for (const [key, value] of Object.entries(log.bindings())) bindings += jsonField(key, value);
  return {
    isEnabled: () => log.isLevelEnabled("info"),
    write(head, tail, fragment) {
      let line = `{"level":30${isoTimeField()}${bindings}`;
      for (const key in head) line += jsonField(key, head[key]);
      if (fragment !== undefined) line += fragment;
      if (tail !== undefined) {
        for (const key in tail) if (head[key] === undefined) line += jsonField(key, tail[key]);
      }
      stream.write(line + LINE_END);
    },
    writeFields(fields) {
      stream.write(`{"level":30${isoTimeField()}${bindings}${fields}${LINE_END}`);
    },
  };
}

/**
 * `record`'s fields as `,"name":value…`, in its order, leaving out a field that is undefined or a function and any
 * whose name `isWritten` says the line already has.
 * @example
 * access.writeFields(`,"status":${status}` + jsonFields(stageFields, (name) => name === "status"));
 */
export function jsonFields(record: Record<string, unknown>, isWritten?: (name: string) => boolean): string {
  let fields = "";
  for (const key in record) if (isWritten === undefined || !isWritten(key)) fields += jsonField(key, record[key]);
  return fields;
}

/** `,"key":value`, or "" for a value JSON leaves out (undefined, a function, a symbol). */
function jsonField(key: string, value: unknown): string {
  switch (typeof value) {
    case "string":
      return `,${jsonString(key)}:${jsonString(value)}`;
    case "number":
      return `,${jsonString(key)}:${Number.isFinite(value) ? value : "null"}`;
    case "boolean":
    case "bigint":
      return `,${jsonString(key)}:${value}`;
    case "undefined":
    case "function":
    case "symbol":
      return "";
    default:
      return `,${jsonString(key)}:${jsonValue(value)}`;
  }
}

// Longer strings go straight to JSON.stringify: its native scan is quicker than this loop past a few dozen characters.
const SCANNED_CHARS_MAX = 64;

/**
 * A string as JSON: quoted as it is when it needs no escape (the usual path, method, name), else JSON.stringify's
 * escaping: `"`, `\`, control characters, and lone surrogates as \uXXXX, so that a line is always valid UTF-8 JSON
 * whatever a viewer put in a path, a header or a certificate.
 */
export function jsonString(value: string): string {
  const length = value.length;
  if (length > SCANNED_CHARS_MAX) return JSON.stringify(value);
  for (let index = 0; index < length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/** An object, array, bigint or null as JSON; a value JSON cannot hold (a cycle, a bigint) as a string saying so. */
function jsonValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch (error) {
    return jsonString(`[unserialisable: ${(error as Error).message}]`);
  }
}
