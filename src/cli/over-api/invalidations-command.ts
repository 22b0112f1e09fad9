// `moat invalidations list|show`: the cache invalidations in the admin API's store, newest first, and where each edge is with them.
import { CliUsageError } from "../../errors.ts";
import type { Invalidation } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import { oneName } from "./api-resource-input.ts";
import { parseCliArgs } from "../cli-args.ts";
import { formatTable, printResult } from "../table-output.ts";

const JSON_FLAG = { json: { type: "boolean", default: false } } as const;
const LIST_FLAGS = { ...API_FLAGS, ...JSON_FLAG, distribution: { type: "string" }, limit: { type: "string", short: "n" }, before: { type: "string" } } as const;
const DEFAULT_LIMIT = 20;
// The API's largest page: a longer list is read page by page with --before.
const MAX_LIMIT = 500;

type InvalidationEdge = Invalidation["edges"][number];

/** Why the invalidation does not wait for an edge: `silent since 2026-…`. */
function notWaitedReason(edge: InvalidationEdge): string {
  return edge.heartbeat === null || edge.lastSeenAt === null ? "no heartbeat recorded" : `${edge.heartbeat} since ${edge.lastSeenAt}`;
}

/** An edge the invalidation does not wait for, and why: `c (silent since 2026-…)`. */
export function notWaitedFor(edge: InvalidationEdge): string {
  return `${edge.edge} (${notWaitedReason(edge)})`;
}

/** Where the edges are with it, in one cell: every live edge must have applied it; silent ones are named, not waited for. */
export function edgesCell(item: Invalidation): string {
  const counted = item.edges.filter((edge) => edge.status !== "not-waited-for");
  const skipped = item.edges.filter((edge) => edge.status === "not-waited-for");
  const notWaited = skipped.length === 0 ? "" : `; not waited for: ${skipped.map(notWaitedFor).join(", ")}`;
  if (counted.length === 0) return `pending (no live edge has applied it yet${notWaited})`;
  const pending = counted.filter((edge) => edge.status === "pending").map((edge) => edge.edge);
  const applied = `${counted.length - pending.length}/${counted.length}`;
  return item.status === "applied" ? `applied (${applied}${notWaited})` : `pending (${applied}; waiting for ${pending.join(", ")}${notWaited})`;
}

/** The table `moat invalidations list` prints; the paths last, as they are as many as were given. */
export function invalidationsTable(items: readonly Invalidation[]) {
  return {
    header: ["ID", "DISTRIBUTION", "CREATED", "BY", "EDGES", "PATHS"],
    rows: items.map((item) => [item.id, item.distribution, item.at, item.actor, edgesCell(item), item.paths.join(" ")]),
  };
}

/** One invalidation for people: its request, then each edge and when it applied it. */
export function invalidationText(item: Invalidation): string {
  const edges =
    item.edges.length === 0
      ? ["no edge runs from this store (an edge run from it applies it within a second of starting)"]
      : formatTable(
          ["EDGE", "STATUS", "APPLIED AT"],
          item.edges.map((edge) => [edge.edge, edge.status === "not-waited-for" ? `not waited for (${notWaitedReason(edge)})` : edge.status, edge.appliedAt ?? "-"]),
        )
          .trimEnd()
          .split("\n");
  const fields: [string, string[]][] = [
    ["id", [item.id]],
    ["distribution", [item.distribution]],
    ["paths", item.paths],
    ["created", [item.at]],
    ["by", [item.actor]],
    ["status", [edgesCell(item)]],
    ["edges", edges],
  ];
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, lines]) => lines.map((line, index) => `${(index === 0 ? label : "").padEnd(width)}  ${line}`.trimEnd()).join("\n")).join("\n") + "\n";
}

function wholeNumber(command: string, flag: string, value: string | undefined, min: number, max: number, what: string): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) throw new CliUsageError(`${command}: ${flag} must be ${what} (got ${JSON.stringify(value)}).`, { fix: `run \`moat ${command} --help\`` });
  return number;
}

/** An id as the API names it, or as `moat cache invalidate` prints it (#12). */
function invalidationId(command: string, value: string, what = "ID"): string {
  const id = value.replace(/^#/, "");
  if (!/^[1-9]\d{0,15}$/.test(id)) throw new CliUsageError(`${command}: ${what} must be an invalidation id, its number as \`moat cache invalidate\` or \`moat invalidations list\` prints it: 12, or #12 (got ${JSON.stringify(value)}).`);
  return id;
}

export async function runInvalidationsList(args: string[]): Promise<number> {
  const command = "invalidations list";
  const { values } = parseCliArgs(command, args, LIST_FLAGS);
  const limit = wholeNumber(command, "--limit", values.limit, 1, MAX_LIMIT, `a whole number of invalidations from 1 to ${MAX_LIMIT}`) ?? DEFAULT_LIMIT;
  const before = values.before === undefined ? undefined : invalidationId(command, values.before, "--before");
  const query = { limit, ...(values.distribution !== undefined ? { distribution: values.distribution } : {}), ...(before !== undefined ? { cursor: before } : {}) };
  const page = await withApi(command, values, async (moat) => (await moat.GET("/invalidations", { params: { query } })).data);
  const items = page?.items ?? [];
  const where = values.distribution === undefined ? "" : ` for ${values.distribution}`;
  const { header, rows } = invalidationsTable(items);
  // A full page says where the next one starts: --before takes the API's cursor, the last id shown.
  const more = page?.nextCursor === undefined ? "" : `(older ones: --before ${page.nextCursor})\n`;
  const text = items.length > 0 ? formatTable(header, rows) + more : before === undefined ? `No invalidations${where}.` : `No invalidations${where} before #${before}.`;
  printResult(values.json, items, text);
  return 0;
}

export async function runInvalidationsShow(args: string[]): Promise<number> {
  const command = "invalidations show";
  const { values, positionals } = parseCliArgs(command, args, { ...API_FLAGS, ...JSON_FLAG }, true);
  const id = invalidationId(command, oneName(command, positionals, "ID (as `moat cache invalidate` or `moat invalidations list` prints it)"));
  const { data } = await withApi(command, values, (moat) => moat.GET("/invalidations/{id}", { params: { path: { id } } }));
  const item = data as Invalidation;
  printResult(values.json, item, invalidationText(item));
  return 0;
}
