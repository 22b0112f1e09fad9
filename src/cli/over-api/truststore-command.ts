// `moat truststore list|show|put|delete`: the config's trust stores (CA bundles that verify viewers' certificates) over the admin API.
import { stringify as stringifyYaml } from "yaml";
import { ApiProblemError, ifMatch, versionOf } from "../../sdk/index.ts";
import type { MoatClient, TrustStore, TrustStoreItem } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import { oneName, parseIfMatch, readResourceFile } from "./api-resource-input.ts";
import { parseCliArgs } from "../cli-args.ts";
import { printResult } from "../table-output.ts";

const JSON_FLAG = { json: { type: "boolean", default: false } } as const;

async function listTrustStores(moat: MoatClient): Promise<TrustStoreItem[]> {
  const items: TrustStoreItem[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await moat.GET("/trust-stores", { params: { query: { limit: 500, ...(cursor !== undefined ? { cursor } : {}) } } });
    items.push(...(data?.items ?? []));
    cursor = data?.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** The trust store and its version, or undefined when there is none of that name. */
async function readTrustStore(moat: MoatClient, name: string): Promise<{ item: TrustStoreItem; version: number } | undefined> {
  try {
    const { data, response } = await moat.GET("/trust-stores/{name}", { params: { path: { name } } });
    return { item: data as TrustStoreItem, version: versionOf(response) ?? (data as TrustStoreItem).version };
  } catch (error) {
    if (error instanceof ApiProblemError && error.status === 404) return undefined;
    throw error;
  }
}

const crlCount = (crl: string | string[] | undefined) => (crl === undefined ? "-" : String(Array.isArray(crl) ? crl.length : 1));

export async function runTrustStoreList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("truststore list", args, { ...API_FLAGS, ...JSON_FLAG });
  const items = await withApi("truststore list", values, listTrustStores);
  printResult(values.json, items, {
    header: ["NAME", "VERSION", "CA BUNDLE", "CRLS"],
    rows: items.map((item) => [item.name, String(item.version), item.document.caBundle, crlCount(item.document.crl)]),
    empty: "No trust stores.",
  });
  return 0;
}

export async function runTrustStoreShow(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("truststore show", args, { ...API_FLAGS, ...JSON_FLAG }, true);
  const name = oneName("truststore show", positionals, "trust store name");
  const item = await withApi("truststore show", values, async (moat) => {
    const { data } = await moat.GET("/trust-stores/{name}", { params: { path: { name } } });
    return data as TrustStoreItem;
  });
  printResult(values.json, item, `# trust store ${item.name}: version ${item.version} (revision ${item.revision})\n${stringifyYaml(item.document)}`);
  return 0;
}

export async function runTrustStorePut(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("truststore put", args, { ...API_FLAGS, ...JSON_FLAG, file: { type: "string", short: "f" }, "if-match": { type: "string" } }, true);
  const name = oneName("truststore put", positionals, "trust store name");
  const expected = parseIfMatch("truststore put", values["if-match"]);
  const document = (await readResourceFile("truststore put", values.file, (store) => ({ trustStores: { [name]: store } }), (config) => config.trustStores[name])) as TrustStore;
  const { data, response } = await withApi("truststore put", values, async (moat) => {
    // Without --if-match: replace the version there now, or create it if there is none (If-None-Match: *, so a racing create is refused).
    const version = expected ?? (await readTrustStore(moat, name))?.version;
    const header = version === undefined ? { "If-None-Match": "*" } : { "If-Match": ifMatch(version) };
    return moat.PUT("/trust-stores/{name}", { params: { path: { name }, header }, body: document });
  });
  const item = data as TrustStoreItem;
  printResult(values.json, item, `${response.status === 201 ? "Created" : "Replaced"} trust store ${item.name}: version ${item.version} (revision ${item.revision}).`);
  return 0;
}

export async function runTrustStoreDelete(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("truststore delete", args, { ...API_FLAGS, ...JSON_FLAG, "if-match": { type: "string" } }, true);
  const name = oneName("truststore delete", positionals, "trust store name");
  const expected = parseIfMatch("truststore delete", values["if-match"]);
  const version = await withApi("truststore delete", values, async (moat) => {
    const at = expected ?? (await moat.GET("/trust-stores/{name}", { params: { path: { name } } })).data?.version;
    await moat.DELETE("/trust-stores/{name}", { params: { path: { name }, header: { "If-Match": ifMatch(at as number) } } });
    return at;
  });
  printResult(values.json, { name, deleted: true, version }, `Deleted trust store ${name} (it was version ${version}).`);
  return 0;
}
