// Rules that span entries: unique ids and aliases, and references (group members, behavior targets) that must point at something real.

import type { ConfigIssue } from "../errors.ts";
import { formatPath, issueAt, type IssuePath } from "./issues.ts";
import { DEFAULTS } from "./defaults.ts";
import { fieldOf, listOf, stringOf } from "./raw.ts";
import { didYouMean } from "./suggest.ts";
import { checkViewerMtlsReferences } from "./viewer-mtls-references.ts";

// These rules read the raw document rather than the schema's output so that they are reported in
// the same pass as shape errors. Whatever is malformed here is skipped: the schema reports it.

interface Named {
  path: IssuePath;
  name: string;
}

/** Every cross-entry issue of a document. */
export function checkReferences(document: unknown): ConfigIssue[] {
  const distributions = listOf(document, "distributions");
  const ids = namesAt(distributions, ["distributions"], (entry) => stringOf(entry, "id"), ["id"]);
  const aliases = distributions.flatMap((entry, index) =>
    listOf(entry, "aliases").flatMap((alias, aliasIndex) =>
      // Aliases are matched case-insensitively, as hostnames are.
      typeof alias === "string" ? [{ path: ["distributions", index, "aliases", aliasIndex], name: alias.toLowerCase() }] : [],
    ),
  );
  return [
    ...checkListenPorts(fieldOf(document, "listen")),
    ...duplicates(ids, "id"),
    ...duplicates(aliases, "alias"),
    ...distributions.flatMap((entry, index) => checkDistribution(entry, ["distributions", index])),
    ...checkViewerMtlsReferences(document),
  ];
}

// Compared with defaults applied: `http: 8443` clashes with the default https port too.
function checkListenPorts(listen: unknown): ConfigIssue[] {
  const https = fieldOf(listen, "https") ?? DEFAULTS.httpsPort;
  const http = fieldOf(listen, "http") === undefined ? DEFAULTS.httpPort : fieldOf(listen, "http");
  // Two port-0 listeners get two different free ports.
  if (typeof http !== "number" || http !== https || http === 0) return [];
  return [issueAt(["listen", "http"], `must differ from listen.https (both are ${http})`)];
}

function checkDistribution(distribution: unknown, path: IssuePath): ConfigIssue[] {
  if (!Array.isArray(fieldOf(distribution, "origins"))) return [];
  const origins = namesAt(listOf(distribution, "origins"), [...path, "origins"], (entry) => stringOf(entry, "id"), ["id"]);
  const groups = namesAt(listOf(distribution, "originGroups"), [...path, "originGroups"], (entry) => stringOf(entry, "id"), ["id"]);
  return [
    // One namespace, because a behavior's target may name either.
    ...duplicates([...origins, ...groups], "id"),
    ...checkGroupMembers(distribution, path, origins, groups),
    ...checkBehaviors(distribution, path, origins, groups),
  ];
}

function checkGroupMembers(distribution: unknown, path: IssuePath, origins: Named[], groups: Named[]): ConfigIssue[] {
  const originIds = origins.map((origin) => origin.name);
  const groupIds = new Set(groups.map((group) => group.name));
  return listOf(distribution, "originGroups").flatMap((group, groupIndex) =>
    listOf(group, "members").flatMap((member, memberIndex) => {
      const memberPath = [...path, "originGroups", groupIndex, "members", memberIndex];
      if (typeof member !== "string" || originIds.includes(member)) return [];
      if (groupIds.has(member)) return [issueAt(memberPath, `"${member}" is an origin group; members must be origins`)];
      return [issueAt(memberPath, `no origin "${member}" in this distribution${didYouMean(member, originIds)}`)];
    }),
  );
}

function checkBehaviors(distribution: unknown, path: IssuePath, origins: Named[], groups: Named[]): ConfigIssue[] {
  const behaviors = fieldOf(distribution, "behaviors");
  if (behaviors === undefined) {
    const originCount = listOf(distribution, "origins").length;
    // With no origins at all, the schema's "origins: must have at least 1 entry" says it all.
    const isImplied = originCount <= 1 && listOf(distribution, "originGroups").length === 0;
    return isImplied
      ? []
      : [issueAt([...path, "behaviors"], 'required when a distribution has several origins or an origin group; list at least the default, with path "*"')];
  }
  if (!Array.isArray(behaviors)) return [];
  const paths = namesAt(behaviors, [...path, "behaviors"], (entry) => stringOf(entry, "path"), ["path"]);
  const missingDefault = paths.some((behavior) => behavior.name === "*")
    ? []
    : [issueAt([...path, "behaviors"], 'needs a default behavior, with path "*" (it serves every request no other path matches)')];
  return [...duplicates(paths, "path"), ...missingDefault, ...checkTargets(behaviors, path, [...origins, ...groups])];
}

function checkTargets(behaviors: readonly unknown[], path: IssuePath, targets: Named[]): ConfigIssue[] {
  const targetIds = targets.map((target) => target.name);
  return behaviors.flatMap((behavior, index) => {
    const target = stringOf(behavior, "target");
    if (target === undefined || target === "" || targetIds.includes(target)) return [];
    const message = `no origin or origin group "${target}" in this distribution${didYouMean(target, targetIds)}`;
    return [issueAt([...path, "behaviors", index, "target"], message)];
  });
}

/** The string each entry holds (its id, its path), with where it was found. */
function namesAt(entries: readonly unknown[], path: IssuePath, nameOf: (entry: unknown) => string | undefined, suffix: IssuePath): Named[] {
  return entries.flatMap((entry, index) => {
    const name = nameOf(entry);
    return name === undefined ? [] : [{ path: [...path, index, ...suffix], name }];
  });
}

/** An issue at each repeat, pointing back at the first occurrence. */
function duplicates(named: readonly Named[], what: string): ConfigIssue[] {
  const first = new Map<string, IssuePath>();
  return named.flatMap(({ path, name }) => {
    const firstPath = first.get(name);
    if (firstPath === undefined) {
      first.set(name, path);
      return [];
    }
    return [issueAt(path, `duplicate ${what} "${name}" (already at ${formatPath(firstPath)})`)];
  });
}
