// A typed client of the admin API: openapi-fetch over undici, the API's certificate verified against the CA bundle given, a deadline on every request, problems thrown as ApiProblemError.
import createClient from "openapi-fetch";
import type { Client } from "openapi-fetch";
import { Agent, fetch as undiciFetch, Request as UndiciRequest } from "undici";
import { ApiAnswerUnexpectedError, ApiClientDeadlineError, ApiProblemError, ApiUnreachableError } from "../errors.ts";
import type { ApiRequestIssue } from "../errors.ts";
import type { paths } from "./openapi-types.ts";

export interface MoatClientOptions {
  /** `https://127.0.0.1:8444` (as `moat start --api` logs it). */
  url: string;
  /** PEM: the CA bundle that verifies the API's server certificate (Moat's: `moat ca bundle`). Without it, the system's roots. */
  ca?: string;
  /** An API token, `moat_<id>_<secret>`: sent as `Authorization: Bearer`. */
  token?: string;
  /** An admin client certificate (PEM, with its intermediate) and its key, from `moat admin issue`. */
  cert?: string;
  key?: string;
  /** Each request, from its start to the last byte of its answer (default 15 s: the API's own deadline is 10 s). */
  deadlineMs?: number;
}

/** The openapi-fetch client of the admin API's paths, and what closes its connections. */
export type MoatClient = Client<paths> & {
  readonly url: string;
  close(): Promise<void>;
};

export const DEFAULT_CLIENT_DEADLINE_MS = 15_000;

const TLS_VERIFY_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** `https://h:1/x?y` → `PUT /x`: how errors name a request (never its headers: they hold the token). */
function describeRequest(request: Request, base: URL): string {
  const url = new URL(request.url);
  return `${request.method} ${url.pathname.slice(base.pathname.replace(/\/$/, "").length) || "/"}`;
}

/** The innermost cause of undici's `fetch failed`: the socket's or TLS's own error. */
function rootCause(error: unknown): { code?: string; message: string } {
  let current = error as { cause?: unknown; code?: string; message?: string } | undefined;
  while (current && typeof current === "object" && current.cause !== undefined && typeof current.cause === "object") current = current.cause as typeof current;
  return { ...(current?.code !== undefined ? { code: current.code } : {}), message: current?.message ?? String(error) };
}

function transportError(error: unknown, request: string, url: string, deadlineMs: number, deadline: AbortSignal): Error {
  if (deadline.aborted) return new ApiClientDeadlineError(request, url, deadlineMs);
  if ((error as { name?: string })?.name === "AbortError") return error as Error;
  const cause = rootCause(error);
  if (cause.code === "UND_ERR_CONNECT_TIMEOUT" || cause.code === "UND_ERR_HEADERS_TIMEOUT" || cause.code === "UND_ERR_BODY_TIMEOUT") {
    return new ApiClientDeadlineError(request, url, deadlineMs);
  }
  if (cause.code !== undefined && TLS_VERIFY_CODES.has(cause.code)) {
    return new ApiUnreachableError(url, `its TLS certificate does not verify against the CA bundle given (${cause.code}: ${cause.message})`, cause.code, {
      fix: "give the bundle of the CA that issued the API's certificate, Moat's (`moat ca bundle`): the SDK's `ca`, the CLI's --api-ca or MOAT_API_CA. Verification is never turned off",
      cause: error,
    });
  }
  return new ApiUnreachableError(url, `${cause.code ? `${cause.code}: ` : ""}${cause.message}`, cause.code, {
    fix: "check the URL, and that `moat start --store … --api HOST:PORT` runs there and this host may reach it",
    cause: error,
  });
}

function isProblem(value: unknown): value is { type: string; title: string; status: number; detail: string; code: string; errors?: ApiRequestIssue[] } {
  const problem = value as Record<string, unknown> | undefined;
  return typeof problem === "object" && problem !== null && typeof problem.code === "string" && typeof problem.detail === "string" && typeof problem.status === "number";
}

/**
 * Creates a client of the admin API. Every call resolves with the answer's `data` and `response`, or throws:
 * ApiProblemError (the API refused: status, code, detail, issues), ApiUnreachableError (no connection, or a
 * certificate that does not verify), ApiClientDeadlineError, ApiAnswerUnexpectedError.
 *
 * @example
 * const moat = createMoatClient({ url: "https://127.0.0.1:8444", ca: await readFile("moat-ca.pem", "utf8"), token });
 * const { data } = await moat.GET("/distributions/{id}", { params: { path: { id: "shop" } } });
 * await moat.close();
 */
export function createMoatClient(options: MoatClientOptions): MoatClient {
  const base = new URL(options.url);
  if (base.protocol !== "https:") throw new TypeError(`the admin API's URL must be https:// (got ${options.url})`);
  if ((options.cert === undefined) !== (options.key === undefined)) throw new TypeError("an admin certificate needs both cert and key");
  const deadlineMs = options.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS;
  const url = base.origin;
  // The only TLS settings: the CA that verifies the server, and the client's certificate; verification stays on.
  const agent = new Agent({
    connect: { ...(options.ca !== undefined ? { ca: options.ca } : {}), ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}), timeout: deadlineMs },
    headersTimeout: deadlineMs,
    bodyTimeout: deadlineMs,
  });

  // The whole answer is read here, under the deadline, so that a slow body is a deadline error too, not a stalled read later.
  async function send(request: Request): Promise<Response> {
    const deadline = AbortSignal.timeout(deadlineMs);
    const named = describeRequest(request, base);
    let status: number;
    let headers: Headers;
    let body: ArrayBuffer;
    try {
      const response = await undiciFetch(request as unknown as UndiciRequest, { dispatcher: agent, signal: AbortSignal.any([request.signal, deadline]) });
      status = response.status;
      headers = new Headers(response.headers as unknown as Headers);
      body = await response.arrayBuffer();
    } catch (error) {
      throw transportError(error, named, url, deadlineMs, deadline);
    }
    if (status >= 400) {
      const contentType = headers.get("content-type") ?? "";
      let problem: unknown;
      try {
        problem = JSON.parse(new TextDecoder().decode(body));
      } catch {
        problem = undefined;
      }
      if (/^application\/(problem\+)?json/.test(contentType) && isProblem(problem)) throw new ApiProblemError(named, problem);
      throw new ApiAnswerUnexpectedError(named, url, status, contentType);
    }
    return new Response(status === 204 || status === 304 ? null : body, { status, headers });
  }

  const client = createClient<paths>({
    baseUrl: url + base.pathname.replace(/\/$/, ""),
    Request: UndiciRequest as unknown as typeof Request,
    fetch: send,
    // A redirect would carry the token elsewhere: the API never sends one.
    redirect: "error",
    ...(options.token !== undefined ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
  });
  return Object.assign(client, { url, close: () => agent.close() });
}

/** The version an ETag names (`"3"` → 3). */
export function versionOf(response: Response): number | undefined {
  const match = /^"(\d+)"$/.exec(response.headers.get("etag") ?? "");
  return match ? Number(match[1]) : undefined;
}

/** The If-Match header that names a version: `3` → `"3"`. */
export function ifMatch(version: number): string {
  return `"${version}"`;
}
