// The store: config resources (distributions, trust stores, settings) with revisions, API tokens and the audit trail, on SQLite or PostgreSQL.
export { openStore, parseStoreAddress, SQLITE_STORE_FILE } from "./open-store.ts";
export type { OpenStoreOptions, Store, StoreEngine } from "./open-store.ts";
export { describeResource, resourcesOf, SETTING_NAMES } from "./config-store.ts";
export { changedResources, diffConfig, preferStored } from "./config-diff.ts";
export type { ConfigDiff, FieldChange, ResourceChange } from "./config-diff.ts";
export type { ChangeOptions, CommittedChange, ReplaceAllOptions, ConfigStore, DocumentValidator, Precondition, ResourceKind, RevisionRecord, StoredResource, StoreRead } from "./config-store.ts";
export { AUDIT_ACTIONS, auditRecordHash, canonicalJson, GENESIS_HASH } from "./audit-chain.ts";
export type { AuditAction, AuditHead, AuditProblem, AuditProblemKind, AuditRecord, AuditVerification } from "./audit-chain.ts";
export type { AuditEvent, AuditLog, AuditQuery, AuditSink } from "./audit-log.ts";
export { MIGRATIONS } from "./migrations.ts";
export { API_ROLES, tokenIdOf } from "./token-store.ts";
export type { ApiRole, TokenCheck, TokenRecord, TokenStore } from "./token-store.ts";
export type { InvalidationStore, StoredInvalidation, StoredInvalidationRequest } from "./invalidation-store.ts";
export type { EdgeRecord, EdgeStore } from "./edge-store.ts";
export { backoffDelay, CHANGE_CHANNEL } from "./revision-notifications.ts";
export type { ChangeSignal, ChangeSignalOptions, ChangeSignals } from "./revision-notifications.ts";
