// The audit trail over the API (admins only): its records a page at a time, oldest first, and a walk of its hash chain.
import { z } from "zod";
import { closedObject } from "../../config/index.ts";
import { AUDIT_ACTIONS } from "../../store/index.ts";
import type { AuditRecord, Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { verifyAuditTrail } from "../audit-checkpoints.ts";
import type { DataDirAccess } from "./pki-context.ts";

const TAG = "Audit";
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;
const hash = z.string().regex(/^[0-9a-f]{64}$/);

export const auditRecordSchema = z
  .strictObject({
    seq: z.int().min(1),
    at: z.string().meta({ description: "ISO 8601, UTC" }),
    actor: z.string().meta({ description: "cli:<user>, api:token/<id>, api:certificate/<name>" }),
    action: z.enum(AUDIT_ACTIONS),
    resource: z.string().meta({ description: "<kind>/<name>: distribution/shop, setting/log, token/<id>, certificate/<serial>; config for an apply that changed no resource" }),
    distribution: z.string().nullable(),
    revision: z.int().nullable().meta({ description: "The config revision the change made; null for tokens and certificates" }),
    before: z.unknown().meta({ description: "The resource before (JSON), null if it did not exist; never a secret" }),
    after: z.unknown().meta({ description: "The resource after (JSON), null if it was removed; never a secret" }),
    prevHash: hash.meta({ description: "The hash of the record before; 64 zeros for the first" }),
    hash: hash.meta({ description: "SHA-256 (hex) of the RFC 8785 canonical JSON of this object without hash" }),
  })
  .meta({ title: "AuditRecord" }) satisfies z.ZodType<AuditRecord>;

const head = z.strictObject({ seq: z.int().min(0), hash });

const checkpoints = z
  .strictObject({
    count: z.int().min(0).meta({ description: "Signed checkpoints verified (all of them when ok)" }),
    coveredThrough: z.int().min(0).meta({ description: "Records 1..coveredThrough are covered by signed checkpoints; later ones are only hash-chained" }),
    last: z
      .strictObject({ number: z.int().min(1), seq: z.int().min(1), hash, at: z.string(), signer: z.string().meta({ description: "The signer's certificate subject and fingerprint" }) })
      .nullable(),
    signatures: z.enum(["verified", "not-checked"]).meta({ description: "not-checked: the API has no data directory, so no CA bundle to check signatures against" }),
    warnings: z.array(z.string()).meta({ description: "What a reader must see although nothing failed: an unanchored trail, signatures not checked" }),
  })
  .meta({ title: "AuditCheckpointReport" });

const verification = z.strictObject({
  ok: z.boolean(),
  records: z.int().meta({ description: "How many records verified before the first problem (all of them when ok)" }),
  head: head.meta({ description: "The last record that verified" }),
  problem: z
    .strictObject({
      seq: z.int(),
      kind: z.enum(["edited", "deleted", "inserted", "reordered", "truncated", "head-mismatch", "checkpoint-mismatch", "checkpoint-invalid", "checkpoint-removed"]),
      message: z.string(),
    })
    .optional(),
  checkpoints,
});

/**
 * Admins only: the trail holds token records (names, roles, who made them) that only admins may list, and every
 * past document of every resource; an operator or a viewer reading it would see more than their role lets them now.
 */
export function auditRoutes(store: Store, dataDir?: DataDirAccess): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/audit",
      operationId: "listAuditRecords",
      summary: "The audit trail, oldest first, a page at a time by sequence number, with the hashes to verify it",
      tag: TAG,
      role: "admin",
      query: closedObject({
        after: z.coerce.number().int().min(0).optional().meta({ description: "Only records after this seq: the nextAfter of the previous page" }),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional().meta({ description: `At most this many (default ${DEFAULT_PAGE})` }),
        resource: z.string().min(1).optional().meta({ description: "Only this resource: distribution/shop, token/<id>" }),
        actor: z.string().min(1).optional().meta({ description: "Only this actor: cli:alice, api:token/<id>" }),
        action: z.enum(AUDIT_ACTIONS).optional(),
        distribution: z.string().min(1).optional().meta({ description: "Only records about this distribution" }),
      }),
      responses: { 200: { description: "A page of records", schema: z.strictObject({ items: z.array(auditRecordSchema), nextAfter: z.int().optional() }) } },
      async handler({ query }) {
        const limit = query.limit ?? DEFAULT_PAGE;
        const { limit: _limit, ...filters } = query;
        // One more than asked: whether there is a next page, without a second query.
        const rows = await store.audit.list({ ...filters, limit: limit + 1 });
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        return { status: 200, body: { items, ...(rows.length > limit && last ? { nextAfter: last.seq } : {}) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/audit/verify",
      operationId: "verifyAuditTrail",
      summary: "Walk the hash chain and the signed checkpoints: the first record or checkpoint that is wrong, and how; what the checkpoints cover",
      tag: TAG,
      role: "admin",
      responses: { 200: { description: "The result (a broken chain is a result, not an error of the request)", schema: verification } },
      async handler() {
        // With the data directory: signatures against its CA bundle, and its record of the last checkpoint it signed.
        return { status: 200, body: await verifyAuditTrail(store.audit, dataDir ? { dataDir: dataDir.dataDir } : {}) };
      },
    }),
  ];
}
