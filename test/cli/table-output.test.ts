// The CLI's table printer: what comes from the API (a path, a certificate subject, an actor) never reaches the terminal as a control sequence.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable } from "../../src/cli/table-output.ts";

test("control and bidirectional characters in a cell are printed escaped, and columns still align", () => {
  const text = formatTable(["PATH", "ACTOR"], [["/a\u001b]0;owned\u0007", "api:token/1"], ["/b\r\nforged line", "x\u202ey"]]);
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/, "no control character but the line ends");
  assert.equal(text.split("\n").length, 4, "one line per row, the header and the final newline");
  assert.match(text, /\/a\\u001b\]0;owned\\u0007/);
  assert.match(text, /\/b\\u000d\\u000aforged line/);
  assert.match(text, /x\\u202ey/);
  const [header, first, second] = text.split("\n");
  assert.equal(header?.indexOf("ACTOR"), first?.indexOf("api:token"));
  assert.equal(header?.indexOf("ACTOR"), second?.indexOf("x\\u202ey"));
});
