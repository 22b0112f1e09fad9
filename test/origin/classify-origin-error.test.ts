// Low-level errors map to stable causes; the real faults are produced end to end in test/e2e/origin-failures.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyOriginError, mayBeRefusalPage, RefusalPageAnswer, REFUSAL_PAGE_PREFIX_BYTES, refusalPageOf } from "../../src/origin/index.ts";

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

test("a response head over the edge's limit is the origin's bad response, not a reset it made", () => {
  const overflow = classifyOriginError(Object.assign(new Error("Headers Overflow Error"), { code: "UND_ERR_HEADERS_OVERFLOW" }));
  assert.equal(overflow.code, "origin-bad-response");
  assert.match(overflow.detail, /over the edge's 16 KiB limit/);
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

// nginx's pages as its ngx_http_special_response.c writes them (495 and 496 go out as 400), with the tail of server_tokens on.
const NGINX_TAIL = "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
const NGINX_495 = "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error</center>\r\n" + NGINX_TAIL;
const NGINX_496 = "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n" + NGINX_TAIL;

test("only nginx's own refusal pages, from their first byte and with status 400, are a refused client certificate", () => {
  assert.equal(refusalPageOf(400, NGINX_495), "The SSL certificate error");
  assert.equal(refusalPageOf(400, NGINX_496), "No required SSL certificate was sent");
  // An nginx older than 1.19 wrote <body bgcolor="white">: the title line is what is matched.
  assert.equal(refusalPageOf(400, NGINX_495.replace("<body>", '<body bgcolor="white">')), "The SSL certificate error");
  // The page's first bytes are enough.
  assert.equal(refusalPageOf(400, NGINX_495.slice(0, REFUSAL_PAGE_PREFIX_BYTES)), "The SSL certificate error");
  assert.equal(refusalPageOf(403, NGINX_495), null, "another status is the application's");
  assert.equal(refusalPageOf(400, "<html>\r\n<head><title>400 Bad Request</title></head>\r\n"), null, "nginx's plain 400 is about the request, not the certificate");
  assert.equal(refusalPageOf(400, "<html><body><p>The SSL certificate error field is required</p></body></html>"), null, "an application's page that says the words");
  assert.equal(refusalPageOf(400, `<!DOCTYPE html>\n${NGINX_495}`), null, "a page that embeds nginx's is not nginx's");
  assert.equal(refusalPageOf(400, ""), null);
});

test("a head is held for its body's first bytes only when it may be the refusal page: a 400 in text/html to a request that gets a body", () => {
  assert.equal(mayBeRefusalPage("GET", 400, { "content-type": "text/html" }), true);
  assert.equal(mayBeRefusalPage("POST", 400, { "content-type": "text/html; charset=utf-8" }), true);
  assert.equal(mayBeRefusalPage("HEAD", 400, { "content-type": "text/html" }), false, "a HEAD answer has no body to read");
  assert.equal(mayBeRefusalPage("GET", 400, { "content-type": "application/json" }), false);
  assert.equal(mayBeRefusalPage("GET", 400, { "content-type": "text/htmlx" }), false);
  assert.equal(mayBeRefusalPage("GET", 400, {}), false);
  assert.equal(mayBeRefusalPage("GET", 200, { "content-type": "text/html" }), false);
});

test("a refusal page classifies as origin-rejected-client-cert with the page's title and the check nginx made", () => {
  const bad = classifyOriginError(new RefusalPageAnswer("The SSL certificate error"));
  assert.equal(bad.code, "origin-rejected-client-cert");
  assert.match(bad.detail, /answered 400 "The SSL certificate error" after the TLS handshake: nginx's ssl_verify_client found the certificate does not verify against its ssl_client_certificate/);
  const none = classifyOriginError(new RefusalPageAnswer("No required SSL certificate was sent"));
  assert.equal(none.code, "origin-rejected-client-cert");
  assert.match(none.detail, /ssl_verify_client on got no certificate/);
});
