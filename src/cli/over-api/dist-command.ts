// `moat dist list|show|create|replace|delete`: distributions over the admin API, with their versions for optimistic concurrency.
import { stringify as stringifyYaml } from "yaml";
import { CliUsageError } from "../../errors.ts";
import { ifMatch, versionOf } from "../../sdk/index.ts";
import type { Distribution, DistributionItem, MoatClient } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import { oneName, parseIfMatch, readResourceFile } from "./api-resource-input.ts";
import { parseCliArgs } from "../cli-args.ts";
import { printResult } from "../table-output.ts";

const JSON_FLAG = { json: { type: "boolean", default: false } } as const;
const WRITE_FLAGS = { ...API_FLAGS, ...JSON_FLAG, file: { type: "string", short: "f" }, "if-match": { type: "string" } } as const;

/** Every distribution, page after page, in id order. */
export async function listDistributions(moat: MoatClient): Promise<DistributionItem[]> {
  const items: DistributionItem[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await moat.GET("/distributions", { params: { query: { limit: 500, ...(cursor !== undefined ? { cursor } : {}) } } });
    items.push(...(data?.items ?? []));
    cursor = data?.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** One distribution and the version its ETag names. */
export async function readDistribution(moat: MoatClient, id: string): Promise<{ item: DistributionItem; version: number }> {
  const { data, response } = await moat.GET("/distributions/{id}", { params: { path: { id } } });
  return { item: data as DistributionItem, version: versionOf(response) ?? (data as DistributionItem).version };
}

function written(verb: string, item: DistributionItem | undefined, asJson: boolean | undefined): void {
  if (!item) return;
  printResult(asJson, item, `${verb} distribution ${item.id}: version ${item.version} (revision ${item.revision}).`);
}

export async function runDistList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("dist list", args, { ...API_FLAGS, ...JSON_FLAG });
  const items = await withApi("dist list", values, listDistributions);
  printResult(values.json, items, {
    header: ["ID", "VERSION", "ALIASES", "ORIGINS"],
    rows: items.map((item) => [item.id, String(item.version), item.document.aliases.join(", "), item.document.origins.map((origin) => origin.id).join(", ")]),
    empty: "No distributions.",
  });
  return 0;
}

export async function runDistShow(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("dist show", args, { ...API_FLAGS, ...JSON_FLAG }, true);
  const id = oneName("dist show", positionals, "distribution id");
  const { item } = await withApi("dist show", values, (moat) => readDistribution(moat, id));
  // The document as the config file writes it, ready for `dist replace -f`; its version in a comment.
  printResult(values.json, item, `# distribution ${item.id}: version ${item.version} (revision ${item.revision})\n${stringifyYaml(item.document)}`);
  return 0;
}

async function readDistributionFile(command: string, file: string | undefined): Promise<Distribution> {
  const document = await readResourceFile(command, file, (distribution) => ({ distributions: [distribution] }), (config) => config.distributions[0]);
  if (typeof document.id !== "string") throw new CliUsageError(`${command}: ${file} has no id: a distribution names itself (id: shop).`);
  return document as Distribution;
}

export async function runDistCreate(args: string[]): Promise<number> {
  const { values } = parseCliArgs("dist create", args, { ...API_FLAGS, ...JSON_FLAG, file: { type: "string", short: "f" } });
  const document = await readDistributionFile("dist create", values.file);
  const { data } = await withApi("dist create", values, (moat) => moat.POST("/distributions", { body: document }));
  written("Created", data, values.json);
  return 0;
}

export async function runDistReplace(args: string[]): Promise<number> {
  const { values } = parseCliArgs("dist replace", args, WRITE_FLAGS);
  const expected = parseIfMatch("dist replace", values["if-match"]);
  const document = await readDistributionFile("dist replace", values.file);
  const { data } = await withApi("dist replace", values, async (moat) => {
    // Without --if-match, the version read now: a change made between this read and the write is still refused (412).
    const version = expected ?? (await readDistribution(moat, document.id)).version;
    return moat.PUT("/distributions/{id}", { params: { path: { id: document.id }, header: { "If-Match": ifMatch(version) } }, body: document });
  });
  written("Replaced", data, values.json);
  return 0;
}

export async function runDistDelete(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("dist delete", args, { ...API_FLAGS, ...JSON_FLAG, "if-match": { type: "string" } }, true);
  const id = oneName("dist delete", positionals, "distribution id");
  const expected = parseIfMatch("dist delete", values["if-match"]);
  const version = await withApi("dist delete", values, async (moat) => {
    const at = expected ?? (await readDistribution(moat, id)).version;
    await moat.DELETE("/distributions/{id}", { params: { path: { id }, header: { "If-Match": ifMatch(at) } } });
    return at;
  });
  printResult(values.json, { id, deleted: true, version }, `Deleted distribution ${id} (it was version ${version}).`);
  return 0;
}
