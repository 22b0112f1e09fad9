// One admin API route as data: its zod schemas, the least role that may call it, and its handler. Fastify serves it and the OpenAPI document describes it from the same object.
import type { z } from "zod";
import { configErrorMap, formatPath, toConfigIssues } from "../config/index.ts";
import { ApiRequestInvalidError } from "../errors.ts";
import type { ApiRequestIssue } from "../errors.ts";
import type { ApiRole } from "../store/index.ts";
import type { ApiIdentity } from "./auth.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface ApiResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Response headers worth documenting (ETag, Location). */
  headers?: readonly string[];
  /** A body that is not JSON (a PEM bundle, a DER CRL): its media type, and whether it is binary. */
  content?: { type: string; isBinary?: boolean };
}

/** What a handler is given: the request's parts, each already validated by its schema. */
export interface ApiInput<Params, Query, Body> {
  params: Params;
  query: Query;
  body: Body;
  /**
   * The body as sent, once `body`'s schema has accepted it: what the store keeps of a config document. The schema's
   * output is the loader's (durations in ms, sizes in bytes), which the config's own validation takes for a mistake.
   */
  sentBody: unknown;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  identity: ApiIdentity;
}

export interface ApiReply {
  status: number;
  body?: unknown;
  headers?: Readonly<Record<string, string>>;
}

export interface ApiRouteDefinition<Params, Query, Body> {
  method: HttpMethod;
  /** Fastify's syntax: `/distributions/:id`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  /** The least role that may call it: viewer < operator < admin. */
  role: ApiRole;
  params?: z.ZodType<Params>;
  query?: z.ZodType<Query>;
  body?: z.ZodType<Body>;
  /** The conditional headers it reads, documented as parameters. */
  conditionalHeaders?: readonly ("If-Match" | "If-None-Match")[];
  responses: Readonly<Record<number, ApiResponseSpec>>;
  handler(input: ApiInput<Params, Query, Body>): Promise<ApiReply>;
}

/** A route with its types erased, as the server and the document generator hold them (a method's parameter is bivariant). */
export type ApiRoute = ApiRouteDefinition<unknown, unknown, unknown>;

/** Keeps the handler's input typed by the route's own schemas. */
export function defineRoute<Params = undefined, Query = undefined, Body = undefined>(route: ApiRouteDefinition<Params, Query, Body>): ApiRoute {
  return route as unknown as ApiRoute;
}

/** RFC 6901: `/origins/0/url`. */
function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((segment) => `/${String(segment).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/**
 * Parses one part of a request with its schema and the config's own messages, so a body is judged in the words
 * `moat config check` uses (`origins[0].url: must be …`, `orgins: unknown key (did you mean "origins"?)`).
 */
export function parseRequestPart<T>(schema: z.ZodType<T>, value: unknown, part: "body" | "query" | "path"): T {
  const result = schema.safeParse(value, { error: configErrorMap });
  if (result.success) return result.data;
  const issues: ApiRequestIssue[] = toConfigIssues(result.error.issues).map((issue, index) => {
    const raw = result.error.issues[index];
    // toConfigIssues may resolve a union into its branch's issues: the pointer then comes from the path it printed.
    const pointer = raw && formatPath(raw.path) === issue.path ? jsonPointer(raw.path) : undefined;
    return part === "body" && pointer !== undefined ? { ...issue, pointer } : issue;
  });
  throw new ApiRequestInvalidError(part === "body" ? "the request body" : part === "query" ? "the query string" : "the path", issues);
}
