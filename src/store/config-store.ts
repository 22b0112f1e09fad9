// The config resources in the store: read as one config document at one revision, changed one revision at a time.
import { sql } from "kysely";
import type { Kysely, Transaction } from "kysely";
import { ConfigInvalidError, StoreNotFoundError, StoreRevisionConflictError, StoreVersionConflictError } from "../errors.ts";
import type { ConfigIssue } from "../errors.ts";
import type { AuditAction } from "./audit-chain.ts";
import { appendAuditRecords, lockForWrite } from "./audit-log.ts";
import type { AuditEvent } from "./audit-log.ts";
import { silentNotifier } from "./revision-notifications.ts";
import type { ChangeNotifier } from "./revision-notifications.ts";
import type { StoreTables } from "./tables.ts";

/**
 * What the store holds, by the part of a config document each kind is: a distribution (`distributions[]`, by id),
 * a trust store (`trustStores.<name>`), a settings section (`listen`, `cache`, `pki`… by key).
 */
export type ResourceKind = "distribution" | "trustStore" | "setting";

const TABLES = { distribution: "distributions", trustStore: "trust_stores", setting: "settings" } as const satisfies Record<ResourceKind, keyof StoreTables>;

/** The top-level keys a `setting` may name: every key of a config document but the two the store keeps by item. */
export const SETTING_NAMES = ["dataDir", "pki", "listen", "log", "metrics", "tracing", "connections", "cache", "workers"] as const;

export interface StoredResource {
  kind: ResourceKind;
  name: string;
  document: unknown;
  version: number;
  /** The revision that last changed it. */
  revision: number;
}

/** Everything the store holds at one revision, as the config document a file would hold. */
export interface StoreRead {
  revision: number;
  /** Give it to the config loader as it is: the same validation path as a file. */
  document: Record<string, unknown>;
  resources: readonly StoredResource[];
}

export interface RevisionRecord {
  revision: number;
  createdAt: string;
  actor: string;
  summary: string;
}

/**
 * A write's precondition on the resource it changes: the version it read (`If-Match`), `"absent"` (create only),
 * or nothing (write whatever is there).
 */
export type Precondition = number | "absent" | undefined;

export interface ChangeOptions {
  actor: string;
  ifVersion?: Precondition;
}

export interface CommittedChange {
  revision: number;
  /** The resource's version after the change; absent for a removal. */
  version?: number;
}

export interface ReplaceAllOptions {
  actor: string;
  summary: string;
  /** The revision the caller read and planned against; refused with StoreRevisionConflictError (412) if the store moved. */
  ifRevision?: number;
}

/** Checks a whole config document: the issues, each naming its path, or none. */
export type DocumentValidator = (document: Record<string, unknown>) => readonly ConfigIssue[];

export interface ConfigStore {
  /** `sqlite:<path>` or `postgres://user@host/db` (never a password). */
  readonly label: string;
  /** The newest committed revision; 0 for a store nothing was written to. */
  revision(): Promise<number>;
  /** Every resource, at one revision (one statement: no change can land between two parts of it). */
  read(): Promise<StoreRead>;
  get(kind: ResourceKind, name: string): Promise<StoredResource | undefined>;
  /** Creates or replaces one resource; the whole resulting document is validated first, and nothing is written if it is not valid. */
  put(kind: ResourceKind, name: string, document: unknown, options: ChangeOptions): Promise<CommittedChange>;
  remove(kind: ResourceKind, name: string, options: ChangeOptions): Promise<CommittedChange>;
  /**
   * Replaces everything with a config document (a file being imported) in one revision. With `ifRevision`, only if
   * the store is still at that revision (checked under the write lock, in the same transaction): the change was
   * planned against it, and a write that landed since would otherwise be overwritten unseen.
   */
  replaceAll(document: Record<string, unknown>, options: ReplaceAllOptions): Promise<CommittedChange>;
  /** The newest revisions first; with `before`, only those older than that revision (the next page). */
  revisions(limit: number, options?: { before?: number }): Promise<RevisionRecord[]>;
  close(): Promise<void>;
}

type Row = { kind: string; name: string; document: string; version: number; revision: number };

/** All resources and the newest revision, as one UNION ALL: a single statement reads one consistent state on either engine. */
function readRows(db: Kysely<StoreTables> | Transaction<StoreTables>): Promise<Row[]> {
  const from = (kind: ResourceKind) =>
    db.selectFrom(TABLES[kind]).select([sql<string>`${sql.lit(kind)}`.as("kind"), "name", "document", "version", "revision"]);
  return from("distribution")
    .unionAll(from("trustStore"))
    .unionAll(from("setting"))
    .unionAll(
      db
        .selectFrom("revisions")
        .select([
          sql<string>`${sql.lit("revision")}`.as("kind"),
          sql<string>`${sql.lit("")}`.as("name"),
          sql<string>`${sql.lit("")}`.as("document"),
          sql<number>`0`.as("version"),
          sql<number>`coalesce(max(revision), 0)`.as("revision"),
        ]),
    )
    .execute() as Promise<Row[]>;
}

function byKindThenName(a: { kind: ResourceKind; name: string }, b: { kind: ResourceKind; name: string }): number {
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function toState(rows: readonly Row[]): StoreRead {
  let revision = 0;
  const resources: StoredResource[] = [];
  for (const row of rows) {
    if (row.kind === "revision") revision = Number(row.revision);
    else resources.push({ kind: row.kind as ResourceKind, name: row.name, document: JSON.parse(row.document) as unknown, version: Number(row.version), revision: Number(row.revision) });
  }
  // Names in a fixed order, so that the same state always gives the same document (and the same snapshot).
  resources.sort(byKindThenName);
  return { revision, resources, document: documentOf(resources) };
}

/** The config document the resources make: settings at the top, then `trustStores`, then `distributions`. */
function documentOf(resources: readonly StoredResource[]): Record<string, unknown> {
  const document: Record<string, unknown> = {};
  const trustStores: Record<string, unknown> = {};
  const distributions: unknown[] = [];
  for (const resource of resources) {
    if (resource.kind === "setting") document[resource.name] = resource.document;
    else if (resource.kind === "trustStore") trustStores[resource.name] = resource.document;
    else distributions.push(resource.document);
  }
  if (Object.keys(trustStores).length > 0) document.trustStores = trustStores;
  document.distributions = distributions;
  return document;
}

/** `distribution shop`, `trust store partners`, `setting cache`: how messages name a resource. */
export function describeResource(kind: ResourceKind, name: string): string {
  return `${kind === "trustStore" ? "trust store" : kind} ${name}`;
}

/** The resources of a config document, named as the store keeps them; the document's own shape is the validator's to judge. */
export function resourcesOf(document: Record<string, unknown>): { kind: ResourceKind; name: string; document: unknown }[] {
  const out: { kind: ResourceKind; name: string; document: unknown }[] = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === "distributions" && Array.isArray(value)) {
      for (const item of value) out.push({ kind: "distribution", name: String((item as { id?: unknown })?.id ?? ""), document: item });
    } else if (key === "trustStores" && typeof value === "object" && value !== null) {
      for (const [name, item] of Object.entries(value)) out.push({ kind: "trustStore", name, document: item });
    } else if (value !== undefined) out.push({ kind: "setting", name: key, document: value });
  }
  return out;
}

/**
 * An empty store has no distribution, which a config document must have: until the first one is added, that one
 * issue is not a reason to refuse a setting or a trust store (the edge refuses to serve such a state, not the store
 * to hold it).
 */
function blockingIssues(issues: readonly ConfigIssue[], document: Record<string, unknown>): readonly ConfigIssue[] {
  if ((document.distributions as unknown[]).length > 0) return issues;
  return issues.filter((issue) => issue.path !== "distributions");
}

/**
 * One record per resource a change removes or writes, with its document before and after; a change of no resource
 * (an apply of what was there) is one record of `config`, so that every revision has its record.
 */
function auditEventsOf(
  action: AuditAction,
  actor: string,
  revision: number,
  state: StoreRead,
  planned: { upserts: readonly { kind: ResourceKind; name: string; document: unknown }[]; removals: readonly { kind: ResourceKind; name: string }[] },
): AuditEvent[] {
  const current = (kind: ResourceKind, name: string) => state.resources.find((item) => item.kind === kind && item.name === name)?.document ?? null;
  const event = (kind: ResourceKind, name: string, after: unknown): AuditEvent => ({
    actor,
    action,
    resource: `${kind}/${name}`,
    distribution: kind === "distribution" ? name : null,
    revision,
    before: current(kind, name),
    after,
  });
  // Removals, then writes, each in kind-then-name order: the same change always gives the same records.
  const inOrder = <T extends { kind: ResourceKind; name: string }>(items: readonly T[]) => [...items].sort(byKindThenName);
  const events = [...inOrder(planned.removals).map((item) => event(item.kind, item.name, null)), ...inOrder(planned.upserts).map((item) => event(item.kind, item.name, item.document))];
  return events.length > 0 ? events : [{ actor, action, resource: "config", revision }];
}

/** `notify` announces each committed revision from inside its transaction (PostgreSQL's NOTIFY: delivered at commit, never before). */
export function createConfigStore(db: Kysely<StoreTables>, label: string, validate: DocumentValidator, notify: ChangeNotifier = silentNotifier): ConfigStore {
  /**
   * One change: take the write lock (an UPDATE of its one row: SQLite's write lock, PostgreSQL's row lock, so
   * writers queue on either engine), read the state, let `plan` decide the rows, validate the whole result,
   * then write the rows and a revision, all in one transaction.
   */
  async function change(
    action: "config.put" | "config.remove" | "config.apply",
    actor: string,
    summary: string,
    plan: (state: StoreRead) => { upserts: { kind: ResourceKind; name: string; document: unknown; version: number }[]; removals: { kind: ResourceKind; name: string }[]; version?: number },
  ): Promise<CommittedChange> {
    return db.transaction().execute(async (trx) => {
      await lockForWrite(trx);
      const state = toState(await readRows(trx));
      const planned = plan(state);
      const removed = new Set(planned.removals.map((item) => `${item.kind}\0${item.name}`));
      const replaced = new Map(planned.upserts.map((item) => [`${item.kind}\0${item.name}`, item]));
      const next: StoredResource[] = state.resources.filter((item) => !removed.has(`${item.kind}\0${item.name}`) && !replaced.has(`${item.kind}\0${item.name}`));
      for (const item of planned.upserts) next.push({ ...item, revision: state.revision + 1 });
      next.sort(byKindThenName);
      const nextDocument = documentOf(next);
      const issues = blockingIssues(validate(nextDocument), nextDocument);
      if (issues.length > 0) throw new ConfigInvalidError(`${label}, revision ${state.revision} with ${summary}`, issues);
      const revision = state.revision + 1;
      const at = new Date();
      // The trail's records in this transaction: they commit with the change or not at all.
      const { head } = await appendAuditRecords(trx, auditEventsOf(action, actor, revision, state, planned), at, label);
      await trx.insertInto("revisions").values({ revision, created_at: at.toISOString(), actor, summary, audit_seq: head.seq, audit_hash: head.hash }).execute();
      for (const item of planned.removals) await trx.deleteFrom(TABLES[item.kind]).where("name", "=", item.name).execute();
      for (const item of planned.upserts) {
        const row = { name: item.name, document: JSON.stringify(item.document), version: item.version, revision };
        await trx.insertInto(TABLES[item.kind]).values(row).onConflict((conflict) => conflict.column("name").doUpdateSet({ document: row.document, version: row.version, revision })).execute();
      }
      await notify(trx, { kind: "revision", revision });
      return planned.version === undefined ? { revision } : { revision, version: planned.version };
    });
  }

  function checkPrecondition(state: StoreRead, kind: ResourceKind, name: string, wanted: Precondition): StoredResource | undefined {
    const current = state.resources.find((item) => item.kind === kind && item.name === name);
    if (wanted === undefined) return current;
    const actual = current === undefined ? "absent" : current.version;
    if (actual !== wanted) throw new StoreVersionConflictError(describeResource(kind, name), wanted, actual);
    return current;
  }

  return {
    label,
    async revision() {
      const row = await db.selectFrom("revisions").select(sql<number>`coalesce(max(revision), 0)`.as("revision")).executeTakeFirst();
      return Number(row?.revision ?? 0);
    },
    async read() {
      return toState(await readRows(db));
    },
    async get(kind, name) {
      const row = await db.selectFrom(TABLES[kind]).selectAll().where("name", "=", name).executeTakeFirst();
      return row && { kind, name: row.name, document: JSON.parse(row.document) as unknown, version: Number(row.version), revision: Number(row.revision) };
    },
    async put(kind, name, document, options) {
      if (kind === "setting" && !(SETTING_NAMES as readonly string[]).includes(name)) {
        throw new ConfigInvalidError(label, [{ path: name, message: `is not a settings section; one of ${SETTING_NAMES.join(", ")}` }]);
      }
      if (kind === "distribution" && (document as { id?: unknown } | null)?.id !== name) {
        throw new ConfigInvalidError(label, [{ path: `distributions.${name}.id`, message: `must be ${JSON.stringify(name)}, the name the distribution is stored under` }]);
      }
      return change("config.put", options.actor, `put ${describeResource(kind, name)}`, (state) => {
        const current = checkPrecondition(state, kind, name, options.ifVersion);
        const version = (current?.version ?? 0) + 1;
        return { upserts: [{ kind, name, document, version }], removals: [], version };
      });
    },
    async remove(kind, name, options) {
      return change("config.remove", options.actor, `remove ${describeResource(kind, name)}`, (state) => {
        if (checkPrecondition(state, kind, name, options.ifVersion) === undefined) throw new StoreNotFoundError(describeResource(kind, name));
        return { upserts: [], removals: [{ kind, name }] };
      });
    },
    async replaceAll(document, options) {
      // Checked as given first: two items with one name would otherwise collapse into one row unnoticed.
      const issues = blockingIssues(validate(document), { distributions: [], ...document });
      if (issues.length > 0) throw new ConfigInvalidError(`${label}, ${options.summary}`, issues);
      return change("config.apply", options.actor, options.summary, (state) => {
        if (options.ifRevision !== undefined && state.revision !== options.ifRevision) throw new StoreRevisionConflictError(options.ifRevision, state.revision);
        const wanted = resourcesOf(document);
        const keep = new Set(wanted.map((item) => `${item.kind}\0${item.name}`));
        const versionOf = (kind: ResourceKind, name: string) => state.resources.find((item) => item.kind === kind && item.name === name)?.version ?? 0;
        // A resource whose document is unchanged keeps its version: an importer's If-Match stays good.
        const upserts = wanted
          .filter((item) => JSON.stringify(state.resources.find((current) => current.kind === item.kind && current.name === item.name)?.document) !== JSON.stringify(item.document))
          .map((item) => ({ ...item, version: versionOf(item.kind, item.name) + 1 }));
        const removals = state.resources.filter((item) => !keep.has(`${item.kind}\0${item.name}`)).map((item) => ({ kind: item.kind, name: item.name }));
        return { upserts, removals };
      });
    },
    async revisions(limit, options = {}) {
      let query = db.selectFrom("revisions").selectAll();
      if (options.before !== undefined) query = query.where("revision", "<", options.before);
      const rows = await query.orderBy("revision", "desc").limit(limit).execute();
      return rows.map((row) => ({ revision: Number(row.revision), createdAt: row.created_at, actor: row.actor, summary: row.summary }));
    },
    close: () => db.destroy(),
  };
}
