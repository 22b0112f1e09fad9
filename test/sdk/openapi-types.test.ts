// The committed SDK types are what openapi-typescript makes of the document today, and that document is the one the API serves.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adminApiDocument, committedSdkTypes, generateSdkTypes, SDK_TYPES_PATH } from "../../scripts/sdk/sdk-types.ts";
import { useAdminApi } from "../control/admin-api-harness.ts";
import { sqliteEngine } from "./sqlite-engine.ts";

test("src/sdk/openapi-types.ts is committed as `npm run sdk:gen` makes it from the routes today", async () => {
  const generated = await generateSdkTypes();
  assert.ok(generated.includes('"/distributions/{id}"') && generated.includes("createToken201"), "the generator saw the routes");
  assert.ok(committedSdkTypes() === generated, `${SDK_TYPES_PATH} is stale: run \`npm run sdk:gen\` and commit the result`);
});

const suite = useAdminApi(sqliteEngine);

test("the document the types come from is the one a running API serves at /openapi.json", async (t) => {
  const api = await suite.setUp(t);
  const served = await api.call({ token: api.tokens.viewer }, "/openapi.json");
  assert.equal(served.status, 200);
  assert.deepEqual(served.json, adminApiDocument());
});
