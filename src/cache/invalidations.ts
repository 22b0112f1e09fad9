// Invalidations by path and by prefix wildcard: a file that `moat cache invalidate` appends to and the edge watches (see invalidation-file.ts).
//
// Nothing is scanned when an invalidation arrives. Each invalidation gets a sequence number (see
// invalidation-file.ts); each entry remembers how many invalidations were known when its fill started
// (its mark). At lookup, an entry is invalid if a rule for its path, or for a prefix of it, has a
// higher number than its mark: one Map lookup for the exact path and one per distinct prefix length.

import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MAX_URL_PATH_LENGTH, textProblem } from "../config/names.ts";
import type { ConfigIssue } from "../errors.ts";
import { watchFiles } from "../file-watch.ts";
import type { Logger } from "../observe/index.ts";
import { appendInvalidationLine, compactInvalidations, INVALIDATION_FILES, readInvalidations } from "./invalidation-file.ts";
import type { InvalidationRequest, NumberedInvalidation } from "./invalidation-file.ts";

export { INVALIDATION_FILES, readInvalidations } from "./invalidation-file.ts";
export type { InvalidationRequest, NumberedInvalidation } from "./invalidation-file.ts";

export interface InvalidationRules {
  /** How many invalidations are known: the mark a fill starting now records. */
  readonly mark: number;
  isInvalidated(distributionId: string, pathname: string, entryMark: number): boolean;
  /** Applies invalidations newer than `mark`, in order; each numbered by its `seq`, or the previous number plus one. */
  append(requests: readonly (InvalidationRequest & { seq?: number })[]): void;
}

/** @example const rules = createInvalidationRules(); rules.append([{ id, distribution: "shop", paths: ["/img/*"], at }]); */
export function createInvalidationRules(): InvalidationRules {
  const exact = new Map<string, number>();
  const prefixes = new Map<string, number>();
  const prefixLengths = new Set<number>();
  let mark = 0;
  return {
    get mark() {
      return mark;
    },
    isInvalidated(distributionId, pathname, entryMark) {
      if (entryMark >= mark) return false;
      const full = `${distributionId}\n${pathname}`;
      if ((exact.get(full) ?? 0) > entryMark) return true;
      for (const length of prefixLengths) {
        if (length <= full.length && (prefixes.get(full.slice(0, length)) ?? 0) > entryMark) return true;
      }
      return false;
    },
    append(requests) {
      for (const request of requests) {
        if (request.seq !== undefined && request.seq <= mark) continue;
        mark = request.seq ?? mark + 1;
        for (const path of request.paths) {
          const wildcard = path.endsWith("*");
          const text = `${request.distribution}\n${wildcard ? path.slice(0, -1).replace(/^\/$/, "") : path}`;
          if (wildcard) {
            prefixes.set(text, mark);
            prefixLengths.add(text.length);
          } else exact.set(text, mark);
        }
      }
    },
  };
}

/** What is wrong with an invalidation path, or null. CloudFront's rule: a path, `*` only at the end. */
export function invalidationPathProblem(path: string): string | null {
  // Bounded and printable first: the path is stored, applied by every edge and printed by `moat invalidations list`.
  const text = textProblem(path, MAX_URL_PATH_LENGTH);
  if (text) return text;
  if (!path.startsWith("/") && path !== "*") return `"${path}" must start with / (or be * for everything)`;
  const star = path.indexOf("*");
  if (star !== -1 && star !== path.length - 1) return `"${path}": * is allowed only at the end, as in /images/*`;
  return null;
}

/**
 * What is wrong with an invalidation request, each issue naming its field: the one check `moat cache invalidate`
 * (flags), `POST /invalidations` and the store's write all make, so that each refuses with the same words.
 * `known`: the distributions there are, and where they are (a config file, a store).
 * @example
 * const issues = invalidationRequestIssues({ distribution: "shop", paths: ["/a*b"] }, { distributions: ["shop"], where: "the store sqlite:/var/lib/moat/moat.db" });
 */
export function invalidationRequestIssues(request: { distribution: string; paths: readonly string[] }, known?: { distributions: readonly string[]; where: string }): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (known && !known.distributions.includes(request.distribution)) {
    const there = known.distributions.length > 0 ? ` (there are: ${known.distributions.join(", ")})` : " (there is none yet)";
    issues.push({ path: "distribution", message: `no distribution "${request.distribution}" in ${known.where}${there}` });
  }
  if (request.paths.length === 0) issues.push({ path: "paths", message: "give at least one PATH, such as /index.html or /images/*" });
  request.paths.forEach((path, index) => {
    const problem = invalidationPathProblem(path);
    if (problem) issues.push({ path: `paths[${index}]`, message: problem });
  });
  return issues;
}

/**
 * Appends one invalidation to `<dataDir>/invalidations/requests.jsonl` (one write, O_APPEND, under the lock
 * that compaction takes) and returns its sequence number.
 * @example
 * const { seq } = await appendInvalidation(dataDir, "shop", ["/index.html", "/images/*"]);
 */
export async function appendInvalidation(dataDir: string, distribution: string, paths: readonly string[]): Promise<{ request: InvalidationRequest; seq: number }> {
  const dir = join(dataDir, INVALIDATION_FILES.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const request: InvalidationRequest = { id: randomBytes(8).toString("hex"), distribution, paths, at: new Date().toISOString() };
  return { request, seq: await appendInvalidationLine(dir, request) };
}

/**
 * What applied.json says: how many invalidations the running edge has applied (0 when no edge ever ran). Under
 * workers, the primary writes it: `applied` is the lowest of its workers', and `workers` says each one's.
 */
export interface AppliedInvalidations {
  applied: number;
  workers?: readonly { worker: number; pid: number; applied: number }[];
}

/** @example const { applied, workers } = await appliedInvalidations(dataDir); */
export async function appliedInvalidations(dataDir: string): Promise<AppliedInvalidations> {
  const text = await readFile(join(dataDir, INVALIDATION_FILES.dir, INVALIDATION_FILES.applied), "utf8").catch(() => "");
  try {
    const parsed = JSON.parse(text) as Partial<AppliedInvalidations>;
    const applied = Number(parsed.applied) || 0;
    return Array.isArray(parsed.workers) ? { applied, workers: parsed.workers } : { applied };
  } catch {
    return { applied: 0 };
  }
}

/** Replaces applied.json in one rename: a reader sees the old or the new, never half. */
export async function writeAppliedInvalidations(dataDir: string, applied: AppliedInvalidations): Promise<void> {
  const dir = join(dataDir, INVALIDATION_FILES.dir);
  const tmp = join(dir, `.applied-${randomBytes(6).toString("hex")}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(tmp, JSON.stringify(applied), { mode: 0o600 });
  await rename(tmp, join(dir, INVALIDATION_FILES.applied));
}

/**
 * The one applier, whichever source the invalidations come from (the data directory's file, or a store through the
 * primary): those newer than the rules' mark are appended, each logged, and `onApplied` told the mark (a worker tells
 * its primary, which records the group's lowest). Returns the ones it applied.
 * @example
 * applyInvalidations({ rules, log }, [{ id: "7", seq: 7, distribution: "shop", paths: ["/img/*"], at }]);
 */
export function applyInvalidations(deps: { rules: InvalidationRules; log: Logger; onApplied?(mark: number): void }, requests: readonly NumberedInvalidation[]): NumberedInvalidation[] {
  const fresh = requests.filter((request) => request.seq > deps.rules.mark);
  deps.rules.append(fresh);
  for (const request of fresh) deps.log.info({ invalidation: request.id, distribution: request.distribution, paths: request.paths }, "cache invalidation applied");
  deps.onApplied?.(deps.rules.mark);
  return fresh;
}

/**
 * Loads the invalidations into `rules`, then watches the file and applies new ones as they land,
 * writing the count applied to applied.json so that `moat cache invalidate` can tell when the edge has them;
 * with `onApplied` (a worker), telling it instead, after every read (the first one included).
 * @example
 * const watcher = await watchInvalidations({ dataDir, rules, log });
 */
export async function watchInvalidations(deps: { dataDir: string; rules: InvalidationRules; log: Logger; onApplied?(mark: number): void }): Promise<{ stop(): void; catchUp(): Promise<void> }> {
  const dir = join(deps.dataDir, INVALIDATION_FILES.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let running: Promise<void> = Promise.resolve();
  const catchUp = () => {
    running = running.then(async () => {
      const fresh = applyInvalidations(deps, await readInvalidations(deps.dataDir));
      if (fresh.length === 0) return;
      if (!deps.onApplied) await writeAppliedInvalidations(deps.dataDir, { applied: deps.rules.mark });
      // Everything in the file is applied now, unless a request landed since it was read: compaction checks under its lock.
      const removed = await compactInvalidations(deps.dataDir, deps.rules.mark);
      if (removed > 0) deps.log.debug({ removed }, "cache invalidation file compacted");
    }).catch((error: Error) => deps.log.error({ error: { message: error.message } }, "reading cache invalidations failed"));
    return running;
  };
  await catchUp();
  const watcher = watchFiles({
    files: [join(dir, INVALIDATION_FILES.requests)],
    debounceMs: 0,
    onChange: () => void catchUp(),
    onWatchError: (directory, error) =>
      deps.log.error({ directory, error: { message: error.message } }, "cannot watch cache invalidations; a new one is seen by polling, within 2 s"),
  });
  return { stop: () => watcher.stop(), catchUp };
}
