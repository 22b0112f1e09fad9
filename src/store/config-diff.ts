// What making the store match a config document would do: per resource, created, changed (field by field) or deleted.
import { isDeepStrictEqual } from "node:util";
import { describeResource, resourcesOf } from "./config-store.ts";
import type { ResourceKind, StoreRead } from "./config-store.ts";

/** One field of a changed resource. Paths are relative to the resource: `origins[id=app].url`, `aliases`; "" is a setting's whole value. */
export type FieldChange =
  | { change: "added"; path: string; after: unknown }
  | { change: "removed"; path: string; before: unknown }
  | { change: "changed"; path: string; before: unknown; after: unknown }
  /** The same ids in another order (origins: the first is the default target when no behavior is given). */
  | { change: "reordered"; path: string; before: readonly string[]; after: readonly string[] };

export type ResourceChange =
  | { action: "create"; kind: ResourceKind; name: string; document: unknown }
  | { action: "delete"; kind: ResourceKind; name: string; document: unknown }
  | { action: "change"; kind: ResourceKind; name: string; fields: readonly FieldChange[] };

export interface ConfigDiff {
  /** The store revision the document was compared with. */
  revision: number;
  /** Settings first, then trust stores, then distributions (a config file's order), each by name. */
  changes: readonly ResourceChange[];
  /** Resources the document and the store hold alike. */
  unchanged: number;
}

const KIND_ORDER: Readonly<Record<ResourceKind, number>> = { setting: 0, trustStore: 1, distribution: 2 };

/**
 * Compares what the store holds with a config document (already validated: unique names, known sections).
 * Values compare by structure: the order of a mapping's keys is no change.
 *
 * @example
 * const diff = diffConfig(await store.read(), document);
 * diff.changes; // [{ action: "change", kind: "distribution", name: "shop", fields: [{ change: "changed", path: "origins[id=app].url", before: "https://a:1", after: "https://b:1" }] }]
 */
export function diffConfig(current: StoreRead, document: Record<string, unknown>): ConfigDiff {
  const key = (kind: ResourceKind, name: string) => `${kind}\0${name}`;
  const stored = new Map(current.resources.map((resource) => [key(resource.kind, resource.name), resource]));
  const wanted = resourcesOf(document);
  const changes: ResourceChange[] = [];
  let unchanged = 0;
  for (const item of wanted) {
    const before = stored.get(key(item.kind, item.name));
    stored.delete(key(item.kind, item.name));
    if (before === undefined) changes.push({ action: "create", kind: item.kind, name: item.name, document: item.document });
    else if (isDeepStrictEqual(before.document, item.document)) unchanged += 1;
    else changes.push({ action: "change", kind: item.kind, name: item.name, fields: diffValues(before.document, item.document, "") });
  }
  for (const resource of stored.values()) changes.push({ action: "delete", kind: resource.kind, name: resource.name, document: resource.document });
  changes.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { revision: current.revision, changes, unchanged };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function keyPath(path: string, key: string): string {
  const segment = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return path === "" ? segment : /^[A-Za-z_$]/.test(segment) ? `${path}.${segment}` : `${path}[${segment}]`;
}

/** The ids of a list whose items all have a distinct string `id` (origins, originGroups); undefined otherwise. */
function idsOf(list: readonly unknown[]): string[] | undefined {
  const ids = list.map((item) => (isMapping(item) && typeof item.id === "string" ? item.id : undefined));
  if (list.length === 0 || ids.some((id) => id === undefined) || new Set(ids).size !== ids.length) return undefined;
  return ids as string[];
}

function diffValues(before: unknown, after: unknown, path: string, out: FieldChange[] = []): FieldChange[] {
  if (isDeepStrictEqual(before, after)) return out;
  if (isMapping(before) && isMapping(after)) {
    for (const [name, value] of Object.entries(before)) {
      if (!Object.hasOwn(after, name)) out.push({ change: "removed", path: keyPath(path, name), before: value });
      else diffValues(value, after[name], keyPath(path, name), out);
    }
    for (const [name, value] of Object.entries(after)) if (!Object.hasOwn(before, name)) out.push({ change: "added", path: keyPath(path, name), after: value });
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) return diffLists(before, after, path, out);
  out.push({ change: "changed", path, before, after });
  return out;
}

/**
 * Lists of items with ids compare item by id (an origin added first does not show every other as changed); lists
 * of mappings (behaviors) index by index; lists of plain values (aliases) as a whole, old list → new list.
 */
function diffLists(before: readonly unknown[], after: readonly unknown[], path: string, out: FieldChange[]): FieldChange[] {
  const beforeIds = idsOf(before);
  const afterIds = idsOf(after);
  if (beforeIds && afterIds) {
    const itemPath = (id: string) => `${path}[id=${id}]`;
    beforeIds.forEach((id, index) => {
      const at = afterIds.indexOf(id);
      if (at === -1) out.push({ change: "removed", path: itemPath(id), before: before[index] });
      else diffValues(before[index], after[at], itemPath(id), out);
    });
    afterIds.forEach((id, index) => {
      if (!beforeIds.includes(id)) out.push({ change: "added", path: itemPath(id), after: after[index] });
    });
    const kept = beforeIds.filter((id) => afterIds.includes(id));
    const keptAfter = afterIds.filter((id) => beforeIds.includes(id));
    if (!isDeepStrictEqual(kept, keptAfter)) out.push({ change: "reordered", path, before: kept, after: keptAfter });
    return out;
  }
  if (![...before, ...after].some(isMapping)) {
    out.push({ change: "changed", path, before, after });
    return out;
  }
  for (let index = 0; index < Math.max(before.length, after.length); index++) {
    const itemPath = `${path}[${index}]`;
    if (index >= after.length) out.push({ change: "removed", path: itemPath, before: before[index] });
    else if (index >= before.length) out.push({ change: "added", path: itemPath, after: after[index] });
    else diffValues(before[index], after[index], itemPath, out);
  }
  return out;
}

/**
 * `document` with each resource that is the same as the stored one (by structure) replaced by the stored one, as
 * it is: replaceAll compares JSON text, so a mapping whose keys only moved keeps its version and is not rewritten.
 *
 * @example
 * await store.replaceAll(preferStored(current, document), { actor, summary });
 */
export function preferStored(current: StoreRead, document: Record<string, unknown>): Record<string, unknown> {
  const stored = (kind: ResourceKind, name: string, wanted: unknown) => {
    const found = current.resources.find((resource) => resource.kind === kind && resource.name === name);
    return found !== undefined && isDeepStrictEqual(found.document, wanted) ? found.document : wanted;
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document)) {
    if (key === "distributions" && Array.isArray(value)) out[key] = value.map((item) => stored("distribution", String((item as { id?: unknown })?.id ?? ""), item));
    else if (key === "trustStores" && isMapping(value)) out[key] = Object.fromEntries(Object.entries(value).map(([name, item]) => [name, stored("trustStore", name, item)]));
    else out[key] = stored("setting", key, value);
  }
  return out;
}

/** "~distribution shop, +distribution blog": what a revision's summary says changed (the first `max`, then a count). */
export function changedResources(diff: ConfigDiff, max = 10): string {
  const names = diff.changes.map((change) => `${change.action === "create" ? "+" : change.action === "delete" ? "-" : "~"}${describeResource(change.kind, change.name)}`);
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}
