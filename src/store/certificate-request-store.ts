// Certificate requests of joined edges (a CSR and what it asks to be named), the CA node's answers, and the CA's public certificates it publishes for them.
import { randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { silentNotifier } from "./revision-notifications.ts";
import type { ChangeNotifier } from "./revision-notifications.ts";
import type { CertificateRequestsTable, StoreTables } from "./tables.ts";

/** What a joined edge asks a certificate for: a viewer server certificate's names, or an origin client identity. */
export type CertificateRequestSubject =
  | { use: "viewer-server"; dnsNames: string[]; ipAddresses: string[] }
  | { use: "origin-client"; trustDomain: string; distributionId: string; originId: string };

export type CertificateRequestState = "pending" | "issued" | "refused";

export interface CertificateRequestRecord {
  id: string;
  edge: string;
  subject: CertificateRequestSubject;
  validityMs: number;
  /** PKCS#10, PEM: the edge's public key and its signature (the key itself never leaves the edge). */
  csrPem: string;
  state: CertificateRequestState;
  /** Leaf + intermediate, once issued. */
  chainPem: string | null;
  /** Why the CA node refused it. */
  reason: string | null;
  createdAt: string;
  decidedAt: string | null;
}

/** The CA's public certificates, as the CA node publishes them for joined edges. */
export interface FleetCaCertificates {
  bundlePem: string;
  intermediatePem: string;
  previousIntermediatePems: string[];
  keyAlgorithm: string;
  crlBaseUrl: string | null;
  updatedAt: string;
}

/** What the CA node revoked, as joined edges take it: its revocation registry and its CRL bundle. */
export interface FleetRevocations {
  revocations: { serialHex: string; reason: string; revokedAt: string }[];
  /** The intermediate's CRL then the root's, PEM; null when the CA node has none on disk. */
  crlBundlePem: string | null;
}

export interface CertificateRequestStore {
  /** Records a pending request; returns its id. */
  submit(request: { edge: string; subject: CertificateRequestSubject; validityMs: number; csrPem: string; now: Date }): Promise<string>;
  get(id: string): Promise<CertificateRequestRecord | undefined>;
  /** Pending requests, oldest first, at most `limit`. */
  pending(limit: number): Promise<CertificateRequestRecord[]>;
  /**
   * Answers a pending request (issued with its chain, or refused with a reason). Returns false when it was not
   * pending any more (another CA node answered it): an answer is never overwritten.
   */
  decide(id: string, answer: { state: "issued"; chainPem: string } | { state: "refused"; reason: string }, now: Date): Promise<boolean>;
  /** Deletes answered requests decided before `before` (the edge read its answer long ago); returns how many. */
  pruneDecided(before: Date): Promise<number>;
  /** Writes the CA's public certificates (one row, replaced). */
  publishCa(ca: Omit<FleetCaCertificates, "updatedAt">, now: Date): Promise<void>;
  /** The CA's public certificates, if a CA node has published them. */
  readCa(): Promise<FleetCaCertificates | undefined>;
  /** The CA node's revocations and CRL bundle, beside the CA it published (false, and nothing written, before it has published one). */
  publishRevocations(published: FleetRevocations, now: Date): Promise<boolean>;
  /** The revocations the CA node last published; undefined before it published any. */
  readRevocations(): Promise<FleetRevocations | undefined>;
}

function toRecord(row: Selectable<CertificateRequestsTable>): CertificateRequestRecord {
  return {
    id: row.id,
    edge: row.edge,
    subject: { use: row.use, ...(JSON.parse(row.subject) as object) } as CertificateRequestSubject,
    validityMs: Number(row.validity_ms),
    csrPem: row.csr_pem,
    state: row.state as CertificateRequestState,
    chainPem: row.chain_pem,
    reason: row.reason,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
  };
}

export function createCertificateRequestStore(db: Kysely<StoreTables>, notify: ChangeNotifier = silentNotifier): CertificateRequestStore {
  return {
    async submit(request) {
      const id = randomBytes(16).toString("hex");
      const { use, ...named } = request.subject;
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto("certificate_requests")
          .values({ id, edge: request.edge, use, subject: JSON.stringify(named), validity_ms: request.validityMs, csr_pem: request.csrPem, state: "pending", chain_pem: null, reason: null, created_at: request.now.toISOString(), decided_at: null })
          .execute();
        // The CA node hears it at commit (PostgreSQL) rather than at its next poll.
        await notify(trx, { kind: "certificate-request", id });
      });
      return id;
    },
    async get(id) {
      const row = await db.selectFrom("certificate_requests").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toRecord(row);
    },
    async pending(limit) {
      const rows = await db.selectFrom("certificate_requests").selectAll().where("state", "=", "pending").orderBy("created_at").orderBy("id").limit(limit).execute();
      return rows.map(toRecord);
    },
    async decide(id, answer, now) {
      const set = answer.state === "issued" ? { state: "issued", chain_pem: answer.chainPem } : { state: "refused", reason: answer.reason };
      // Only a pending row changes: two CA nodes answering one request cannot both write.
      const result = await db.updateTable("certificate_requests").set({ ...set, decided_at: now.toISOString() }).where("id", "=", id).where("state", "=", "pending").executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async pruneDecided(before) {
      const result = await db.deleteFrom("certificate_requests").where("state", "!=", "pending").where("decided_at", "<", before.toISOString()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async publishCa(ca, now) {
      const row = {
        bundle_pem: ca.bundlePem,
        intermediate_pem: ca.intermediatePem,
        previous_intermediates: JSON.stringify(ca.previousIntermediatePems),
        key_algorithm: ca.keyAlgorithm,
        crl_base_url: ca.crlBaseUrl,
        updated_at: now.toISOString(),
      };
      await db.insertInto("fleet_ca").values({ id: 1, ...row }).onConflict((conflict) => conflict.column("id").doUpdateSet(row)).execute();
    },
    async publishRevocations(published, now) {
      const result = await db
        .updateTable("fleet_ca")
        .set({ revocations: JSON.stringify(published.revocations), crl_bundle_pem: published.crlBundlePem, updated_at: now.toISOString() })
        .where("id", "=", 1)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async readRevocations() {
      const row = await db.selectFrom("fleet_ca").select(["revocations", "crl_bundle_pem"]).where("id", "=", 1).executeTakeFirst();
      if (!row || row.revocations === null) return undefined;
      return { revocations: JSON.parse(row.revocations) as FleetRevocations["revocations"], crlBundlePem: row.crl_bundle_pem };
    },
    async readCa() {
      const row = await db.selectFrom("fleet_ca").selectAll().where("id", "=", 1).executeTakeFirst();
      return (
        row && {
          bundlePem: row.bundle_pem,
          intermediatePem: row.intermediate_pem,
          previousIntermediatePems: JSON.parse(row.previous_intermediates) as string[],
          keyAlgorithm: row.key_algorithm,
          crlBaseUrl: row.crl_base_url,
          updatedAt: row.updated_at,
        }
      );
    },
  };
}
