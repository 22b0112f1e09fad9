// A config diff for people: one line per resource (+ create, ~ change, - delete), then its fields, old → new.
import { describeResource } from "../../store/index.ts";
import type { ConfigDiff, FieldChange } from "../../store/index.ts";

function shown(value: unknown): string {
  return JSON.stringify(value);
}

function fieldLine(field: FieldChange, name: string): string {
  // A setting that is one value (workers: 2) changes as a whole: its path is its name.
  const path = field.path === "" ? name : field.path;
  switch (field.change) {
    case "added":
      return `    + ${path}: ${shown(field.after)}`;
    case "removed":
      return `    - ${path}: ${shown(field.before)}`;
    case "changed":
      return `    ~ ${path}: ${shown(field.before)} → ${shown(field.after)}`;
    case "reordered":
      return `    ~ ${path} order: ${shown(field.before)} → ${shown(field.after)}`;
  }
}

/** The counts line: "1 to create, 2 to change, 0 to delete". */
export function diffCounts(diff: ConfigDiff, tense: "plan" | "done" = "plan"): string {
  const count = (action: string) => diff.changes.filter((change) => change.action === action).length;
  const words = tense === "plan" ? ["to create", "to change", "to delete"] : ["created", "changed", "deleted"];
  return `${count("create")} ${words[0]}, ${count("change")} ${words[1]}, ${count("delete")} ${words[2]}`;
}

/**
 * @example
 * process.stdout.write(diffText(diffConfig(await store.read(), document)));
 * // ~ distribution shop
 * //     ~ origins[id=app].url: "https://a.internal:8443" → "https://b.internal:8443"
 */
export function diffText(diff: ConfigDiff): string {
  const lines: string[] = [];
  for (const change of diff.changes) {
    const sign = change.action === "create" ? "+" : change.action === "delete" ? "-" : "~";
    lines.push(`${sign} ${describeResource(change.kind, change.name)}`);
    if (change.action === "change") for (const field of change.fields) lines.push(fieldLine(field, change.name));
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
