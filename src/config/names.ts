// The syntax of the names a config holds: ids, hostnames, aliases, server names.

import { isIPv4, isIPv6 } from "node:net";

/**
 * Distribution and origin ids go into the URI SAN of every origin client certificate,
 * spiffe://<trustDomain>/distribution/<id>/origin/<id>, so they keep to one DNS label:
 * lowercase, so that two ids never differ only in case inside a certificate.
 */
export const ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const ID_RULE = "must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit";

// RFC 1123 §2.1 labels; case is accepted here and folded when the config is normalised.
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A DNS hostname such as api.internal: labels of RFC 1123 syntax, and a last label that is not all digits (RFC 3696 §2). */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split(".");
  const last = labels[labels.length - 1] ?? "";
  return labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(last);
}

/**
 * What is wrong with an alias, or null when it is fine. An alias is a hostname, or a
 * wildcard "*.example.test" (one leading label, as in CloudFront and RFC 6125 §6.4.3), or an
 * IPv4 literal. IPv4 literals are allowed for labs and local tests where viewers connect by
 * address: RFC 6066 §3 forbids IP literals in SNI, so such viewers arrive without SNI and are
 * matched by Host alone. IPv6 literals are not accepted (they would need brackets in Host).
 */
export function aliasProblem(text: string): string | null {
  if (text.includes("://") || text.includes("/")) return "must be a bare hostname, not a URL";
  if (isIPv4(text)) return null;
  if (isIPv6(text)) return "must be a hostname or an IPv4 address, not an IPv6 address";
  if (/:\d+$/.test(text)) return "must not include a port (the edge listens on listen.https)";
  const host = text.startsWith("*.") ? text.slice(2) : text;
  if (isHostname(host)) return null;
  if (host.includes("*")) return 'may use a wildcard only as its whole first label, as in "*.example.test"';
  return "must be a hostname such as shop.example.test or *.example.test";
}

/** A name to verify an origin's certificate against (and send as SNI): a hostname or an IPv4 literal. */
export function isServerName(text: string): boolean {
  return isHostname(text) || isIPv4(text);
}

/**
 * C0 and C1 controls, DEL, and Unicode's bidirectional controls: what makes stored text print as something else where
 * it is shown (a terminal escape in `moat … list`, a line break in a header or a log line, a name that reads backwards).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** `text` with each UNPRINTABLE character written as `\u001b`: what a terminal shows of text from elsewhere (a store, a certificate). */
export function escapeUnprintable(text: string): string {
  return text.replace(new RegExp(UNPRINTABLE.source, "g"), (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Longest file path a config names (Linux's PATH_MAX); a behavior or invalidation path (a URL path) is shorter. */
export const MAX_FILE_PATH_LENGTH = 4096;
export const MAX_URL_PATH_LENGTH = 2048;

/**
 * What is wrong with free text a config or a request stores (a path, a file name), or null: longer than `maxLength`,
 * or holding a character of UNPRINTABLE (named by its code point and index, never printed).
 */
export function textProblem(text: string, maxLength: number): string | null {
  if (text.length > maxLength) return `must be at most ${maxLength} characters (got ${text.length})`;
  const match = UNPRINTABLE.exec(text);
  if (match) return `must not contain control or bidirectional-override characters (U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} at index ${match.index})`;
  return null;
}
