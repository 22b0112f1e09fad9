// The /metrics listener on its own: the unauthenticated warning off loopback, and the listen address a config or flag gives.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { parseListenAddress } from "../../src/config/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { isLoopbackHost, startMetricsEndpoint } from "../../src/observe/metrics-registry.ts";

function recordingLogger(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { log: createLogger({ level: "info", destination }), lines };
}

test("listen addresses: HOST:PORT, [IPv6]:PORT, a bare port on 127.0.0.1; anything else is refused", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseListenAddress("[::1]:9464"), { host: "::1", port: 9464 });
  assert.deepEqual(parseListenAddress("9464"), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseListenAddress("localhost:0"), { host: "localhost", port: 0 });
  for (const bad of ["", "127.0.0.1", "127.0.0.1:99999", "http://127.0.0.1:9464", "[nothost]:1", "a b:1"]) assert.equal(parseListenAddress(bad), undefined, bad);
  assert.ok(isLoopbackHost("127.0.0.1") && isLoopbackHost("127.1.2.3") && isLoopbackHost("::1") && isLoopbackHost("localhost"));
  assert.ok(!isLoopbackHost("0.0.0.0") && !isLoopbackHost("::") && !isLoopbackHost("10.0.0.1") && !isLoopbackHost("edge.example"));
});

test("on loopback the endpoint starts quietly; on every address it warns that it is unauthenticated", async () => {
  const render = async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", body: "" });
  const quiet = recordingLogger();
  const loopback = await startMetricsEndpoint({ host: "127.0.0.1", port: 0 }, render, quiet.log);
  await loopback.close();
  assert.ok(quiet.lines.some((line) => line.msg === "metrics listening" && Number(line.port) > 0));
  assert.ok(!quiet.lines.some((line) => line.level === 40));
  const loud = recordingLogger();
  const everywhere = await startMetricsEndpoint({ host: "0.0.0.0", port: 0 }, render, loud.log);
  await everywhere.close();
  const warning = loud.lines.find((line) => line.level === 40);
  assert.ok(warning, "a warning");
  assert.match(String(warning.msg), /no authentication/);
});
