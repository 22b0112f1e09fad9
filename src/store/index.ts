// The store: config resources (distributions, trust stores, settings) with revisions, on SQLite or PostgreSQL.
export { openStore, parseStoreAddress } from "./open-store.ts";
export type { OpenStoreOptions, StoreEngine } from "./open-store.ts";
export { describeResource, SETTING_NAMES } from "./config-store.ts";
export type { ChangeOptions, CommittedChange, ConfigStore, DocumentValidator, Precondition, ResourceKind, RevisionRecord, StoredResource, StoreRead } from "./config-store.ts";
export { MIGRATIONS } from "./migrations.ts";
