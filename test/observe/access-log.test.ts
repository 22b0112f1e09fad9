import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { createAccessLog, createLogger, jsonFields, jsonString } from "../../src/observe/index.ts";
import type { Logger } from "../../src/observe/index.ts";

/** A logger whose lines land in `lines`, one string each, as they were written. */
function capturingLogger(options: { level?: "info" | "warn"; worker?: number } = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  // pino writes to a DestinationStream synchronously: a Writable's write() calls its write at once.
  const log = createLogger({ level: options.level ?? "info", destination, ...(options.worker === undefined ? {} : { worker: options.worker }) }).child({ part: "edge" });
  return { log, lines };
}

/** What pino itself writes for the same fields, with the time field made equal. */
function withoutTime(line: string): string {
  return line.replace(/,"time":"[^"]*"/, ',"time":"T"');
}

const HOSTILE = [
  'a "quoted" path',
  "back\\slash\\",
  "control \u0000\u0001\u0008\t\n\r\u001f\u007f chars",
  "lone high \ud800 surrogate",
  "lone low \udfff surrogate",
  "ends in a high surrogate \udbff",
  "\udc00 starts with a low one",
  "a pair 😀 stays a pair",
  "latin-1 bytes \u00e9\u00ff and \u2028\u2029 separators",
  '</script><script>alert("x")</script>',
  `long ${'"\\\u0000\ud800'.repeat(5000)} end`,
  "x".repeat(100_000),
  "",
];

describe("the access log", () => {
  it("writes the line pino writes for the same fields: level, time, bindings, fields in order, msg", () => {
    const { log, lines } = capturingLogger({ worker: 3 });
    const head = { requestId: "r-1", snapshot: 4, method: "GET", path: "/a?b=c", http: "1.1", status: 200, ms: 1.5, client: "127.0.0.1", clientCert: { verify: "SUCCESS", subject: "CN=viewer", serial: "0A", fingerprint256: "AB:CD" } };
    const tail = { distribution: "shop", behavior: "/img/*", cache: "hit", tier: "memory", websocket: true, skipped: undefined, nan: Number.NaN };
    createAccessLog(log).write(head, tail);
    log.info({ ...head, ...tail }, "request");
    assert.equal(lines.length, 2);
    assert.equal(withoutTime(lines[0] as string), withoutTime(lines[1] as string));
    assert.deepEqual(Object.keys(JSON.parse(lines[0] as string)), ["level", "time", "service", "worker", "part", ...Object.keys(head), "distribution", "behavior", "cache", "tier", "websocket", "nan", "msg"]);
  });

  it("writes a field named in both parts once, with the pipeline's value unless it has none", () => {
    const { log, lines } = capturingLogger();
    createAccessLog(log).write({ status: 200, error: undefined, ms: 1 }, { status: 999, error: "origin-timeout" });
    assert.match(lines[0] as string, /"status":200,"ms":1,"error":"origin-timeout"/);
    assert.doesNotMatch(lines[0] as string, /999/);
  });

  it("keeps every hostile string valid JSON that parses back to the same value", () => {
    const { log, lines } = capturingLogger();
    const access = createAccessLog(log);
    for (const value of HOSTILE) access.write({ path: value, clientCert: { subject: value } }, { host: value, [value]: "as a name" });
    assert.equal(lines.length, HOSTILE.length);
    lines.forEach((line, index) => {
      const value = HOSTILE[index] as string;
      assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"), "one line each");
      // Written out as UTF-8 a lone surrogate would become U+FFFD: escaped, it survives the bytes.
      const parsed = JSON.parse(Buffer.from(line, "utf8").toString("utf8")) as Record<string, unknown>;
      assert.equal(parsed.path, value);
      assert.equal(parsed.host, value);
      assert.deepEqual(parsed.clientCert, { subject: value });
      assert.equal(parsed[value], "as a name");
      assert.equal(parsed.msg, "request");
    });
  });

  it("escapes as JSON.stringify does", () => {
    for (const value of HOSTILE) assert.equal(jsonString(value), JSON.stringify(value));
    for (let code = 0; code < 0x10000; code++) {
      const value = `a${String.fromCharCode(code)}b`;
      assert.equal(jsonString(value), JSON.stringify(value), `U+${code.toString(16)}`);
    }
  });

  it("writes nothing and says so above level info", () => {
    const { log, lines } = capturingLogger({ level: "warn" });
    const access = createAccessLog(log);
    assert.equal(access.isEnabled(), false);
    log.level = "info";
    assert.equal(access.isEnabled(), true);
    assert.equal(lines.length, 0);
  });

  it("writes an unserialisable field as a string saying so, never a broken line", () => {
    const { log, lines } = capturingLogger();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    createAccessLog(log).write({ status: 200, big: 10n }, { odd: cycle });
    const parsed = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(parsed.big, 10);
    assert.match(parsed.odd as string, /^\[unserialisable: /);
  });

  it("writes the same line from fields serialised by the caller (the pipeline's path) as from objects", () => {
    const { log, lines } = capturingLogger({ worker: 2 });
    const access = createAccessLog(log);
    const head = { requestId: "r-2", status: 200, ms: 0.3 };
    const tail = { distribution: "shop", cache: "hit", status: 999, skipped: undefined, odd: HOSTILE[3] as string, [HOSTILE[0] as string]: HOSTILE[2] as string };
    access.write(head, tail);
    access.writeFields(`,"requestId":"r-2","status":200,"ms":0.3${jsonFields(tail, (name) => name in head)}`);
    assert.equal(lines.length, 2);
    assert.equal(withoutTime(lines[1] as string), withoutTime(lines[0] as string));
    assert.deepEqual(JSON.parse(lines[1] as string).odd, HOSTILE[3]);
  });

  it("serialises a record's fields in order, escaped, leaving out what the line already has", () => {
    const record = { a: 1, b: "x\"y", c: undefined, d: () => 1, e: { f: [1, "g"] }, h: Number.POSITIVE_INFINITY };
    assert.equal(jsonFields(record), ',"a":1,"b":"x\\\"y","e":{"f":[1,"g"]},"h":null');
    assert.equal(jsonFields(record, (name) => name === "a" || name === "e"), ',"b":"x\\\"y","h":null');
    assert.equal(jsonFields({}), "");
  });
});
