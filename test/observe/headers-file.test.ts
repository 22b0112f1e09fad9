// The collector's headers file: `Name: value` lines, comments and blanks skipped; a bad line named by number, its value never shown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHeadersFile } from "../../src/observe/request-tracing.ts";

test("one header a line, spaces around the value trimmed, comments and blank lines skipped, CRLF taken", () => {
  assert.deepEqual(parseHeadersFile("# Grafana\r\n\r\nAuthorization:  Basic dXNlcjprZXk= \r\nX-Scope-OrgID: eu:1\n", "/f"), { Authorization: "Basic dXNlcjprZXk=", "X-Scope-OrgID": "eu:1" });
  assert.deepEqual(parseHeadersFile("", "/f"), {});
});

test("a bad line is refused with the file and line number; the value, a credential, is never in the message", () => {
  const refused = (text: string, message: RegExp) =>
    assert.throws(() => parseHeadersFile(text, "/etc/moat/otlp-headers"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "tracing-setup-failed");
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /sekrit/);
      return true;
    });
  refused("Authorization sekrit\n", /otlp-headers, line 1: expected "Name: value"/);
  refused("# c\nBad Name: sekrit\n", /line 2: "Bad Name" is not an HTTP header name/);
  refused("content-length: sekrit\n", /line 1: content-length is set by the exporter itself/);
  refused("X-Key: sek\u0007rit\n", /line 1: the value of X-Key holds a control character/);
  refused("X-Key: sekrit\nx-key: sekrit2\n", /line 2: x-key is given twice/);
});
