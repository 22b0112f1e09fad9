// The API's refusal as a person reads it: its detail, each issue with its path, and what to do for the usual ones.
import type { ProblemError } from "../api/client.ts";

const HINTS: Readonly<Record<string, string>> = {
  "api-forbidden": "Your role may not do this; the API refused it. Ask an admin for a token with a higher role.",
  "api-unauthenticated": "The API no longer accepts this sign-in (the token expired or was revoked): sign out and in again.",
  "traffic-unavailable": "",
};

export function ProblemView(props: { problem: ProblemError; title?: string }) {
  const { problem } = props;
  const hint = HINTS[problem.code];
  return (
    <div class="problem" role="alert">
      <p class="problem-title">
        <strong>{props.title ?? "The API refused this"}</strong> <span class="code">{problem.status > 0 ? `${problem.status} ${problem.code}` : problem.code}</span>
      </p>
      <p class="problem-detail">{problem.detail}</p>
      {problem.issues.length > 0 && (
        <ul class="problem-issues">
          {problem.issues.map((issue) => (
            <li key={`${issue.path}:${issue.message}`}>
              <code>{issue.path || "(the whole request)"}</code>: {issue.message}
            </li>
          ))}
        </ul>
      )}
      {hint ? <p class="hint">{hint}</p> : null}
    </div>
  );
}

/** What a list or page shows while it loads, when it failed, or its content. */
export function Loading(props: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {props.what}…
    </p>
  );
}
