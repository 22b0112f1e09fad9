// The SDK against the admin API on the SQLite store.
import { describe } from "node:test";
import { sqliteEngine } from "./sqlite-engine.ts";
import { sdkContract } from "./sdk-contract.ts";

describe("the SDK on SQLite", () => {
  sdkContract(sqliteEngine);
});
