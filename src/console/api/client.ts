// The console's client of the admin API: openapi-fetch typed by the SDK's generated paths, on the page's own origin, the token as Bearer, a refusal thrown as the API's problem.
import createClient from "openapi-fetch";
import type { Client } from "openapi-fetch";
import type { paths } from "../../sdk/openapi-types.ts";
import type { ProblemIssue } from "./types.ts";

export type { ProblemIssue } from "./types.ts";


/** The API's RFC 9457 answer to a request it refused, or a failure to reach it told the same way. */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly issues: readonly ProblemIssue[];

  constructor(problem: { status: number; code: string; detail: string; errors?: readonly ProblemIssue[] }) {
    super(problem.detail);
    this.name = "ProblemError";
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.issues = problem.errors ?? [];
  }
}

export type ConsoleClient = Client<paths>;

/** Each request, from its start to its answer: the API's own deadline is 10 s. */
const DEADLINE_MS = 15_000;

function isProblem(value: unknown): value is { status: number; code: string; detail: string; errors?: ProblemIssue[] } {
  const problem = value as Record<string, unknown> | null;
  return typeof problem === "object" && problem !== null && typeof problem.code === "string" && typeof problem.detail === "string" && typeof problem.status === "number";
}

/**
 * A client of the API that serves this page. With a token, every request carries it as Bearer; without one, the
 * browser's client certificate (if it presented one on the connection) is what the API authenticates.
 */
export function createConsoleClient(token: string | undefined): ConsoleClient {
  const client = createClient<paths>({
    baseUrl: window.location.origin,
    // A redirect would carry the token elsewhere: the API never sends one.
    redirect: "error",
    credentials: "same-origin",
    cache: "no-store",
  });
  client.use({
    onRequest({ request }) {
      if (token !== undefined) request.headers.set("authorization", `Bearer ${token}`);
      return new Request(request, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(DEADLINE_MS)]) });
    },
    async onResponse({ response }) {
      if (response.ok) return response;
      const text = await response.clone().text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (isProblem(body)) throw new ProblemError(body);
      throw new ProblemError({ status: response.status, code: "unexpected-answer", detail: `the API answered ${response.status} without problem details` });
    },
    onError({ error }) {
      const reason = error instanceof Error ? error.message : String(error);
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      return new ProblemError({
        status: 0,
        code: timedOut ? "console-deadline" : "api-unreachable",
        detail: timedOut ? `the API did not answer within ${DEADLINE_MS / 1000} s` : `the API could not be reached (${reason}): check that it still runs`,
      });
    },
  });
  return client;
}

/** What a failed call is, for display: the API's problem, or any other error as one. */
export function asProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  return new ProblemError({ status: 0, code: "console-error", detail: error instanceof Error ? error.message : String(error) });
}
