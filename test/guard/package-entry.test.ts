// The verifier and middleware are a package entry point: `import … from "moat/guard"` (package.json "exports").
import assert from "node:assert/strict";
import { test } from "node:test";

test("moat/guard exports the verifier, the middleware and the sidecar", async () => {
  const guard = await import("moat/guard");
  for (const name of ["createGuardTrust", "createEdgeVerifier", "guardTlsOptions", "requireEdgeIdentity", "expressEdgeGuard", "fastifyEdgeGuard", "edgeIdentityOf", "startGuard", "originSnippet"]) {
    assert.equal(typeof (guard as Record<string, unknown>)[name], "function", name);
  }
});
