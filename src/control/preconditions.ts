// ETags from resource versions (and the config's revision), and the store precondition a write's If-Match / If-None-Match stands for (RFC 9110 §13.1).
import { ApiPreconditionRequiredError, ApiRequestInvalidError, StoreNotFoundError } from "../errors.ts";
import type { Precondition } from "../store/index.ts";

/** A strong ETag: the resource's version, which changes at every write of it. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function single(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) throw new ApiRequestInvalidError("the request headers", [{ path: name, message: "must be sent once" }]);
  return value?.trim();
}

/** `"3"` → 3; `*` → "any". One strong ETag only: a weak one never matches (RFC 9110 §13.1.1 compares strongly), so it is refused as a mistake. */
function parseIfMatch(value: string): number | "any" {
  if (value === "*") return "any";
  const match = /^"(\d{1,15})"$/.exec(value);
  if (!match) throw new ApiRequestInvalidError("the request headers", [{ path: "If-Match", message: `must be the ETag the API sent ("3") or * (got ${JSON.stringify(value)})` }]);
  return Number(match[1]);
}

/**
 * The precondition of a replace or delete: If-Match is required (428 without it); a PUT may instead send
 * `If-None-Match: *` to create only. `If-Match: *` means "whatever version is there", so it needs the current one.
 */
export async function writePrecondition(
  headers: Headers,
  options: { resource: string; action: "replacing" | "deleting"; current: () => Promise<{ version: number } | undefined> },
): Promise<Exclude<Precondition, undefined>> {
  const ifMatch = single(headers, "If-Match");
  const ifNoneMatch = single(headers, "If-None-Match");
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new ApiRequestInvalidError("the request headers", [{ path: "If-None-Match", message: "cannot be sent with If-Match: one creates, the other replaces" }]);
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== "*" || options.action !== "replacing") {
      throw new ApiRequestInvalidError("the request headers", [{ path: "If-None-Match", message: `only * is taken, on PUT, to create (got ${JSON.stringify(ifNoneMatch)})` }]);
    }
    return "absent";
  }
  if (ifMatch === undefined) throw new ApiPreconditionRequiredError(options.resource, options.action === "replacing" ? "replacing" : "deleting");
  const wanted = parseIfMatch(ifMatch);
  if (wanted !== "any") return wanted;
  const current = await options.current();
  if (current === undefined) throw new StoreNotFoundError(options.resource);
  return current.version;
}

/**
 * The revision a whole-document write was planned against: If-Match with the ETag of GET /config (`"7"`), required
 * (428 without it). `*` is refused: "whatever is there" is the lost update the precondition exists to prevent.
 */
export function revisionPrecondition(headers: Headers): number {
  const ifMatch = single(headers, "If-Match");
  if (ifMatch === undefined) throw new ApiPreconditionRequiredError("the whole config", "replacing", { canCreate: false });
  const wanted = parseIfMatch(ifMatch);
  if (wanted === "any") {
    throw new ApiRequestInvalidError("the request headers", [{ path: "If-Match", message: "must be the revision the document was planned against, as GET /config's ETag gives it (\"7\"); * would overwrite changes nobody saw" }]);
  }
  return wanted;
}
