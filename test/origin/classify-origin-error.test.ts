// Low-level errors map to stable causes; the real faults are produced end to end in test/e2e/origin-failures.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyOriginError } from "../../src/origin/index.ts";

test("OpenSSL verification results map to certificate causes", () => {
  const code = (c: string) => classifyOriginError(Object.assign(new Error("x"), { code: c })).code;
  assert.equal(code("CERT_HAS_EXPIRED"), "origin-cert-expired");
  assert.equal(code("CERT_NOT_YET_VALID"), "origin-cert-not-yet-valid");
  assert.equal(code("SELF_SIGNED_CERT_IN_CHAIN"), "origin-cert-untrusted");
  assert.equal(code("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "origin-cert-untrusted");
  assert.equal(code("ERR_TLS_CERT_ALTNAME_INVALID"), "origin-name-mismatch");
  assert.equal(code("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"), "origin-rejected-client-cert");
  assert.equal(code("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), "origin-rejected-client-cert");
});

test("a close after the handshake with no byte read is a refused client certificate; with bytes read it is a reset", () => {
  const closed = (bytesRead: number) => classifyOriginError(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET", socket: { bytesRead } })).code;
  assert.equal(closed(0), "origin-rejected-client-cert");
  assert.equal(closed(120), "origin-connection-reset");
});

test("the detail never carries more than the first line of a message", () => {
  const { detail } = classifyOriginError(Object.assign(new Error("line one\nline two"), { code: "EPROTO" }));
  assert.equal(detail, "EPROTO: line one");
});
