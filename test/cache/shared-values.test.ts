// Header values that stored responses repeat are kept as one string each: equal values share one instance in the memory tier, every value still reads the same, and the table stays bounded whatever the origins send.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { shareHeaderValues, sharedValue, sharedValueCount } from "../../src/cache/shared-values.ts";

// JavaScript cannot tell two equal strings apart (=== compares characters): V8's own print of an array gives each
// element's address, read from a child with --allow-natives-syntax. Values are made from bytes, as a socket's are, so
// that no two are the same string to begin with.
const IDENTITY_SCRIPT = `
const { createMemoryTier } = await import(${JSON.stringify(new URL("../../src/cache/memory-tier.ts", import.meta.url).href)});
const { entryMeta } = await import(${JSON.stringify(new URL("./entry-meta.ts", import.meta.url).href)});
const fresh = (text) => Buffer.from(text).toString("latin1");
const headersOf = (etag) => ({ "content-type": fresh("text/css"), "cache-control": fresh("public, max-age=3600"), etag: fresh(etag), vary: [fresh("accept-encoding"), fresh("origin")] });
const before = [headersOf('"a"'), headersOf('"b"')];
const control = [before[0]["content-type"], before[1]["content-type"]];
const memory = createMemoryTier({ maxBytes: 2 ** 20, maxObjectBytes: 2 ** 20 });
for (const [index, headers] of before.entries()) memory.put(entryMeta("shop\\n/" + index, { bytes: 1, sha256: "" }, { headers }), [Buffer.from("x")]);
const [a, b] = [memory.get("shop\\n/0").meta.headers, memory.get("shop\\n/1").meta.headers];
process.stderr.write(JSON.stringify([a, b]) + "\\n");
%DebugPrint([control[0], control[1], a["content-type"], b["content-type"], a["cache-control"], b["cache-control"], a.vary[1], b.vary[1], a.etag, b.etag]);
`;

test("two stored responses with an equal value hold one string for it; values of their own stay their own", async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", IDENTITY_SCRIPT], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  const [a, b] = JSON.parse(stderr.trim().split("\n").at(-1) as string) as Array<Record<string, unknown>>;
  assert.deepEqual(a, { "content-type": "text/css", "cache-control": "public, max-age=3600", etag: '"a"', vary: ["accept-encoding", "origin"] }, "every value reads as it came, in the same order");
  assert.deepEqual(b?.etag, '"b"');
  const elements = stdout.slice(stdout.indexOf("- elements:", stdout.indexOf("- All own properties")));
  // V8 prints a run of the same element once, as "2-3: 0x… <…>".
  const addresses = [...elements.matchAll(/^\s+(\d+)(?:-(\d+))?: (0x[0-9a-f]+) </gm)].flatMap((match) => Array.from({ length: Number(match[2] ?? match[1]) - Number(match[1]) + 1 }, () => match[3]));
  assert.equal(addresses.length, 10, elements.slice(0, 2000));
  const [control0, control1, type0, type1, cache0, cache1, vary0, vary1, etag0, etag1] = addresses;
  assert.notEqual(control0, control1, "values made from bytes start as two strings (else this test tells nothing)");
  assert.equal(type0, type1, "content-type: one string");
  assert.equal(cache0, cache1, "cache-control: one string");
  assert.equal(vary0, vary1, "a list's values too");
  assert.notEqual(etag0, etag1, "different values stay different");
});

test("shareHeaderValues changes no value, field or order, and returns the object it was given", () => {
  const headers: Record<string, string | string[]> = { b: "2", a: "1", list: ["x", "y"], empty: "" };
  const copy = structuredClone(headers);
  assert.equal(shareHeaderValues(headers), headers);
  assert.deepEqual(headers, copy);
  assert.deepEqual(Object.keys(headers), ["b", "a", "list", "empty"]);
});

test("a frozen header object, or a frozen list in one, is left as it is", () => {
  const frozen = Object.freeze({ "content-type": "text/css" });
  assert.equal(shareHeaderValues(frozen), frozen);
  const list = Object.freeze(["a", "b"]);
  const headers = { vary: list as unknown as string[] };
  assert.doesNotThrow(() => shareHeaderValues(headers));
  assert.equal(headers.vary, list);
});

test("the table stays bounded: values seen once (an ETag each) age out, and a long value is not entered", () => {
  for (let index = 0; index < 100_000; index++) sharedValue(`"etag-${index}"`);
  assert.ok(sharedValueCount() <= 2 * 16_384, `${sharedValueCount()} values held`);
  assert.ok(sharedValueCount() > 16_384, "the last generation and the one before it");
  const held = sharedValueCount();
  const long = "x".repeat(2000);
  assert.equal(sharedValue(long), long);
  assert.equal(sharedValueCount(), held, "a value past 1,024 characters is not entered");
});
