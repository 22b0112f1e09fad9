// `moat export --store ADDRESS [-o FILE]` (or over the admin API): the store's config as a config file, which `moat apply` takes back unchanged.
import { writeFile } from "node:fs/promises";
import { extname } from "node:path";
import { API_FLAGS } from "../over-api/api-connection.ts";
import { isConfigOverApi } from "./apply-command.ts";
import { parseCliArgs } from "../cli-args.ts";
import { openCommandStore, STORE_FLAG } from "../store-flags.ts";

export async function runExport(args: string[]): Promise<number> {
  const { values } = parseCliArgs("export", args, { output: { type: "string", short: "o" }, json: { type: "boolean" }, ...STORE_FLAG, ...API_FLAGS });
  if (await isConfigOverApi("export", values)) return (await import("../over-api/config-api-command.ts")).runExportOverApi(values);
  const store = await openCommandStore("export", values.store);
  let text: string;
  let revision: number;
  try {
    const read = await store.read();
    revision = read.revision;
    const isJson = values.json === true || (values.output !== undefined && extname(values.output).toLowerCase() === ".json");
    if (isJson) text = `${JSON.stringify(read.document, null, 2)}\n`;
    else {
      const { stringify } = await import("yaml");
      // The store's own keys and values, as stored: durations stay "5s", paths stay absolute.
      text = `# moat export of ${store.label} at revision ${read.revision}\n${stringify(read.document, { lineWidth: 0 })}`;
    }
  } finally {
    await store.close();
  }
  if (values.output === undefined) process.stdout.write(text);
  else {
    // 0600: a config names where keys and passphrase files are.
    await writeFile(values.output, text, { mode: 0o600 });
    process.stderr.write(`moat: wrote ${values.output} (revision ${revision})\n`);
  }
  return 0;
}
