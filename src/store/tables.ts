// The store's tables as Kysely sees them: one interface per table, the same on SQLite and PostgreSQL.
import type { Generated } from "kysely";

/** One row per committed change: the revision number a snapshot is built from. */
export interface RevisionsTable {
  revision: number;
  /** ISO 8601, UTC. */
  created_at: string;
  /** Who made the change: `cli:<user>`, `api:<token id>`, `import:<file>`. */
  actor: string;
  /** What changed, for people: "put distribution shop". */
  summary: string;
  /** The audit trail's head once this revision's records were written (null for a revision made before the trail existed). */
  audit_seq: number | null;
  audit_hash: string | null;
}

/**
 * A resource kept as the JSON of its part of the config document, so that the store holds exactly what a
 * config file would, and the one schema (src/config) validates both.
 */
export interface DocumentRow {
  /** A distribution's id, a trust store's name, or a settings section's key (`listen`, `cache`…). */
  name: string;
  document: string;
  /** 1 when created, one more at each change: what `If-Match` names. */
  version: number;
  /** The revision that last changed it. */
  revision: number;
}

/** One row, taken first by every write so that writers queue (SQLite and PostgreSQL alike) rather than race. */
export interface WriteLockTable {
  id: number;
  writes: Generated<number>;
  /** The audit trail's head: its newest record's seq and hash, written with it (0 and 64 zeros while it is empty). */
  audit_seq: Generated<number>;
  audit_hash: Generated<string>;
  /** A random UUID given by migration 0013: what each signed checkpoint names the store by. */
  store_id: string | null;
}

/** One record of the audit trail; see src/store/audit-chain.ts for what is hashed and how. */
export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  resource: string;
  distribution: string | null;
  revision: number | null;
  /** JSON text, or null for "did not exist". */
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

/**
 * A key of an event that happens once (`certificate.rotate/<serial>`, `certificate.issue/<serial>`,
 * `certificate.replaced/<serial>`) and the record that holds it (0012): written with that record, in its transaction.
 */
export interface AuditOnceKeysTable {
  key: string;
  seq: number;
}

/** A signed checkpoint of the audit trail (0013); see src/store/audit-checkpoints.ts for what is signed. */
export interface AuditCheckpointsTable {
  /** 1, 2, 3…: no gap. */
  number: number;
  store_id: string;
  /** The last record covered, and its hash. */
  seq: number;
  hash: string;
  at: string;
  /** Lower-case hex SHA-256 of the previous checkpoint's signature bytes; 64 zeros for the first. */
  previous: string;
  /** The signer's certificate, then the intermediate that issued it (PEM). */
  certificate_pem: string;
  /** Base64 of the DER ECDSA-SHA256 signature over the canonical payload. */
  signature: string;
}

/** An API token: who may use the admin API with which role, until when. The secret itself is never stored. */
export interface ApiTokensTable {
  /** 16 lower-case hex digits, also inside the token (`moat_<id>_<secret>`): what logs and lists name a token by. */
  id: string;
  /** What it is for, for people: "ci-deploy". */
  name: string;
  role: string;
  /** Lower-case hex SHA-256 of the whole token. */
  secret_sha256: string;
  /** ISO 8601, UTC, as every time below. */
  created_at: string;
  created_by: string;
  expires_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** One cache invalidation: what `moat cache invalidate --store` and `POST /invalidations` write, every edge on the store applies. */
export interface InvalidationsTable {
  /** 1, 2, 3…: the order edges apply them in (and the mark their cached entries compare with). */
  id: number;
  distribution: string;
  /** A JSON array of "/exact/path" or "/prefix*". */
  paths: string;
  created_at: string;
  actor: string;
}

/** An edge (by its name: `--edge-name`, MOAT_EDGE_NAME or the host name) has applied an invalidation on every one of its workers. */
export interface InvalidationAppliedTable {
  invalidation_id: number;
  edge: string;
  applied_at: string;
}

/** An edge running from the store, as it last reported itself (see edge-store.ts). */
export interface EdgesTable {
  name: string;
  revision: number | null;
  served_at: string | null;
  last_seen_at: string;
  started_at: string;
  version: string;
  /** `--region` (MOAT_EDGE_REGION); null when none was given. */
  region: string | null;
  /** How often it writes its heartbeat; null in a row written before 0006 (the default, 10 s). */
  heartbeat_ms: number | null;
  /** JSON `{ roots, intermediate }` (SHA-256 fingerprints, colon hex) of the CA it uses; null in a row written before 0008, or by an edge without a CA. */
  ca_trust: string | null;
  /** When it stopped cleanly (SIGTERM drain), null while it runs (0010): a stopped edge is not waited for; its next heartbeat clears it. */
  stopped_at: string | null;
}

/**
 * One certificate an edge holds (public parts only; its key stays sealed in that edge's data directory). `state` is
 * what was recorded (`active`, `next`, `retired`, `revoked`); `expired` and `not-yet-valid` are read from the
 * validity against the clock of whoever reads (certificate-store.ts).
 */
export interface CertificatesTable {
  /** SHA-256 of the DER, colon-separated upper-case hex: what names a certificate here. */
  fingerprint256: string;
  /** Lower-case hex, no colons. */
  serial_hex: string;
  /** The edge that holds it (`--edge-name`); '' for the CA's own certificates, which edges on one CA share. */
  edge: string;
  use: string;
  name: string;
  source: string;
  state: string;
  subject: string;
  issuer: string;
  /** A JSON array of `DNS:…`, `IP Address:…`, `URI:…`. */
  sans: string;
  certificate_pem: string;
  /** ISO 8601, UTC (toISOString): compared as text, which orders them in time. */
  not_before: string;
  not_after: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  updated_at: string;
}

/** A one-time token that lets one edge join the fleet (`moat edge join`). The secret itself is never stored. */
export interface EdgeJoinTokensTable {
  /** 16 lower-case hex digits, also inside the token (`moat_join_<id>_<secret>`). */
  id: string;
  /** The name the edge joins under. */
  name: string;
  region: string | null;
  /** Lower-case hex SHA-256 of the whole token. */
  secret_sha256: string;
  created_at: string;
  created_by: string;
  expires_at: string;
  /** Set, once, by the join that spent it. */
  used_at: string | null;
  /** Set, once, by an admin who revoked it before it was used (0010); a revoked token joins nobody. */
  revoked_at: string | null;
}

/** An edge that joined with a token: it holds no master key, and asks the CA node for its certificates. */
export interface JoinedEdgesTable {
  name: string;
  region: string | null;
  joined_at: string;
  token_id: string;
}

/** A joined edge's certificate signing request, and the CA node's answer. */
export interface CertificateRequestsTable {
  /** 32 lower-case hex digits, random. */
  id: string;
  edge: string;
  /** `viewer-server` or `origin-client`. */
  use: string;
  /** JSON of what it asks to be named: `{ dnsNames, ipAddresses }` or `{ trustDomain, distributionId, originId }`. */
  subject: string;
  validity_ms: number;
  csr_pem: string;
  /** `pending`, `issued` or `refused`. */
  state: string;
  /** Leaf + intermediate, once issued. */
  chain_pem: string | null;
  /** Why it was refused. */
  reason: string | null;
  created_at: string;
  decided_at: string | null;
}

/** The CA's public certificates as the CA node last published them (one row, id 1): what a joined edge trusts and chains to. */
export interface FleetCaTable {
  id: number;
  bundle_pem: string;
  intermediate_pem: string;
  /** JSON array of PEMs. */
  previous_intermediates: string;
  key_algorithm: string;
  crl_base_url: string | null;
  updated_at: string;
  /** JSON array of { serialHex, reason, revokedAt }: the CA node's revocation registry (0011); null until it published one. */
  revocations: string | null;
  /** The CA node's CRL bundle (the intermediate's CRL, then the root's), PEM (0011); null until it published one. */
  crl_bundle_pem: string | null;
}

export interface StoreTables {
  revisions: RevisionsTable;
  distributions: DocumentRow;
  trust_stores: DocumentRow;
  settings: DocumentRow;
  write_lock: WriteLockTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  audit_once_keys: AuditOnceKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  invalidations: InvalidationsTable;
  invalidation_applied: InvalidationAppliedTable;
  edges: EdgesTable;
  certificates: CertificatesTable;
  edge_join_tokens: EdgeJoinTokensTable;
  joined_edges: JoinedEdgesTable;
  certificate_requests: CertificateRequestsTable;
  fleet_ca: FleetCaTable;
}
