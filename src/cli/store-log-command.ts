// `moat store log --store ADDRESS`: the store's revisions, newest first: number, time, who, what changed.
import { CliUsageError } from "../errors.ts";
import { parseCliArgs } from "./cli-args.ts";
import { openCommandStore, STORE_FLAG } from "./store-flags.ts";

export async function runStoreLog(args: string[]): Promise<number> {
  const { values } = parseCliArgs("store log", args, { limit: { type: "string", short: "n" }, json: { type: "boolean" }, ...STORE_FLAG });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliUsageError(`store log: --limit must be a whole number of revisions, 1 or more (got ${JSON.stringify(values.limit)}).`);
  const store = await openCommandStore("store log", values.store);
  const revisions = await store.revisions(limit).finally(() => store.close());
  if (values.json) {
    process.stdout.write(`${JSON.stringify(revisions, null, 2)}\n`);
    return 0;
  }
  if (revisions.length === 0) {
    process.stdout.write(`${store.label}: no revision yet (nothing was applied).\n`);
    return 0;
  }
  const rows = [["REVISION", "TIME", "ACTOR", "CHANGE"], ...revisions.map((record) => [String(record.revision), record.createdAt, record.actor, record.summary])];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  process.stdout.write(`${rows.map((row) => row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell)).join("  ")).join("\n")}\n`);
  return 0;
}
