// Turns schema failures into ConfigIssues: a path as the user would write it and a message that says what is expected and what was found.

import type { z } from "zod";
import type { ConfigIssue } from "../errors.ts";

export type IssuePath = readonly PropertyKey[];

/** `distributions[0].origins[1].url`, or "" for the document itself. */
export function formatPath(path: IssuePath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(segment))) text += text === "" ? String(segment) : `.${String(segment)}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

export function issueAt(path: IssuePath, message: string): ConfigIssue {
  return { path: formatPath(path), message };
}

/** A short, unambiguous rendering of a value for "(got …)". */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  // A PEM block (a key sent in the wrong field, say) is never repeated into an error, a log or an API answer.
  if (typeof value === "string" && /-----BEGIN [A-Z0-9 ]+-----/.test(value)) return "a PEM block, not repeated here";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a mapping";
  return String(value);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  null: "null",
};

/**
 * The messages for zod's built-in checks, in the config's own vocabulary ("a mapping",
 * "a list", "required"). Schemas with a domain rule set their own message instead.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  const got = `(got ${describeValue(issue.input)})`;
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "required";
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected} ${got}`;
    case "invalid_value":
      return `must be ${oneOf(issue.values.map((value) => JSON.stringify(value)))} ${got}`;
    case "too_small":
      return sizeMessage(issue.input, issue.minimum, issue.exact ? "exactly" : "at least");
    case "too_big":
      return sizeMessage(issue.input, issue.maximum, issue.exact ? "exactly" : "at most");
    default:
      return undefined;
  }
};

function oneOf(choices: readonly string[]): string {
  if (choices.length <= 2) return choices.join(" or ");
  return `one of ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
}

function sizeMessage(input: unknown, bound: number | bigint, relation: string): string {
  if (Array.isArray(input)) {
    const entries = bound === 1 ? "entry" : "entries";
    return `must have ${relation} ${bound} ${entries} (got ${input.length})`;
  }
  if (typeof input === "string") return bound === 1 && relation === "at least" ? "must not be empty" : `must have ${relation} ${bound} characters`;
  return `must be ${relation} ${bound} (got ${describeValue(input)})`;
}

/** Flattens zod's issues into ConfigIssues, resolving unions to the branch the user evidently meant. */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], prefix: IssuePath = []): ConfigIssue[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) return unionIssues(issue.errors, path, issue.message);
    return [issueAt(path, issue.message)];
  });
}

// As zod 3 did: a branch that accepted the input's type (no type or literal mismatch at its root)
// is the form the user meant, so its own issues are the useful ones. Otherwise the union's message.
function unionIssues(branches: readonly (readonly z.core.$ZodIssue[])[], path: IssuePath, message: string): ConfigIssue[] {
  const isWrongForm = (issue: z.core.$ZodIssue) =>
    issue.path.length === 0 && (issue.code === "invalid_type" || issue.code === "invalid_value");
  const plausible = branches.filter((branch) => !branch.some(isWrongForm));
  const [only] = plausible;
  if (plausible.length === 1 && only) return toConfigIssues(only, path);
  return [issueAt(path, message)];
}
