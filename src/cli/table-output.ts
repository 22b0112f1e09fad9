// The one printer of the commands over the admin API: an aligned table for people, JSON for scripts.
import { escapeUnprintable } from "../config/names.ts";

/**
 * Columns aligned by their widest cell, two spaces apart; the last one is not padded. Cells come from the API (a
 * path, a certificate's subject, an actor): a control character in one is shown escaped, never sent to the terminal.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => row.map(escapeUnprintable));
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ").trimEnd()).join("\n") + "\n";
}

/**
 * Prints `value` as JSON with --json, else the table it makes (or the text `empty` says when it has no rows).
 * @example
 * printResult(values.json, items, { header: ["ID", "VERSION"], rows: items.map((item) => [item.id, String(item.version)]), empty: "No distributions." });
 */
export function printResult(asJson: boolean | undefined, value: unknown, table: { header: readonly string[]; rows: readonly (readonly string[])[]; empty?: string } | string): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  if (typeof table === "string") {
    process.stdout.write(table.endsWith("\n") ? table : `${table}\n`);
    return;
  }
  process.stdout.write(table.rows.length === 0 && table.empty !== undefined ? `${table.empty}\n` : formatTable(table.header, table.rows));
}
