// The one mapper from errors to RFC 9457 problem details (application/problem+json), by the stable codes of src/errors.ts.
import { z } from "zod";
import {
  ApiBodyTooLargeError,
  ApiDeadlineExceededError,
  ApiNotFoundError,
  ApiRequestInvalidError,
  ApiUnsupportedMediaTypeError,
  ConfigInvalidError,
  MoatError,
} from "../errors.ts";
import type { ApiRequestIssue } from "../errors.ts";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** RFC 9457 §3.1.1: a problem type is a URI; Moat's name an error code of its catalog (docs/reference/errors.md#<code>). */
export function problemType(code: string): string {
  return `urn:moat:error:${code}`;
}

export const problemSchema = z
  .strictObject({
    type: z.string().meta({ description: "urn:moat:error:<code>: the code's entry in Moat's error catalog" }),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().meta({ description: "The stable code, as logs name it" }),
    errors: z
      .array(z.strictObject({ path: z.string(), message: z.string(), pointer: z.string().optional() }))
      .optional()
      .meta({ description: "Each thing wrong, as `moat config check` names it: a path in the body (with its JSON Pointer) or in the config the change would make" }),
  })
  .meta({ description: "RFC 9457 problem details" });

export type Problem = z.output<typeof problemSchema>;

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Fastify's own refusals (before a handler runs), as the catalog's errors. */
function fromFastify(error: { code?: string; statusCode?: number; message: string }, limits: { bodyLimitBytes: number; deadlineMs: number }): MoatError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiBodyTooLargeError(limits.bodyLimitBytes);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiUnsupportedMediaTypeError(/'([^']*)'/.exec(error.message)?.[1] ?? "this");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiRequestInvalidError("the request body", [{ path: "", message: `is not JSON: ${error.message}` }]);
    case "FST_ERR_HANDLER_TIMEOUT":
      return new ApiDeadlineExceededError(limits.deadlineMs);
    case "FST_ERR_NOT_FOUND":
      return new ApiNotFoundError("this route");
    default:
      // secure-json-parse's refusals (__proto__, constructor.prototype).
      if (error instanceof SyntaxError) return new ApiRequestInvalidError("the request body", [{ path: "", message: `is not acceptable JSON: ${error.message}` }]);
      // Fastify's other refusals of a request it could not route or read (a malformed URL, say).
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new ApiRequestInvalidError("the request", [{ path: "", message: error.message }]);
      return undefined;
  }
}

/** The problem a failure becomes; anything not in the catalog is a 500 that says nothing of its cause (the log has it). */
export function toProblem(error: unknown, limits: { bodyLimitBytes: number; deadlineMs: number }): Problem {
  const known = error instanceof MoatError ? error : fromFastify(error as { code?: string; statusCode?: number; message: string }, limits);
  if (!known) {
    return { type: problemType("internal"), title: TITLES[500] as string, status: 500, detail: "the admin API failed; its log says why", code: "internal" };
  }
  // The store raises config-invalid with status 500 (an edge's start cannot go on); to an API client it is its input that is wrong.
  const status = known instanceof ConfigInvalidError ? 422 : known.status;
  let detail = known.message;
  let errors: ApiRequestIssue[] | undefined;
  if (known instanceof ConfigInvalidError) {
    // Not the message: it names the store's file or server, which is not the client's business.
    detail = "the change would make the config invalid (each error names its path in the config, as `moat config check` would)";
    errors = known.issues.map((issue) => ({ path: issue.path, message: issue.message }));
  } else if (known instanceof ApiRequestInvalidError) {
    errors = [...known.issues];
  }
  return {
    type: problemType(known.code),
    title: TITLES[status] ?? "Error",
    status,
    detail,
    code: known.code,
    ...(errors ? { errors } : {}),
  };
}
