// `moat certs|ca|apply|diff|export|audit` over the admin API on the SQLite store.
import { describe } from "node:test";
import { sqliteEngine } from "../../sdk/sqlite-engine.ts";
import { apiPkiCommandsContract } from "./api-pki-commands-contract.ts";

describe("the PKI and config commands over the admin API on SQLite", () => {
  apiPkiCommandsContract(sqliteEngine);
});
