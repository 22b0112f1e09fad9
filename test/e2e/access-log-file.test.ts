// The access log in its own file: lines go there instead of stdout, event lines stay on stdout, the file is 0640 and rolls over by size keeping the newest.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { accessFileBase } from "../../src/observe/index.ts";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestEdge } from "../support/test-edge.ts";
import type { TestEdge } from "../support/test-edge.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

describe("access log file", { timeout: 60_000 }, () => {
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let dir: string;

  before(async () => {
    ca = await createEphemeralCertificateAuthority();
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
    dir = await mkdtemp(join(tmpdir(), "moat-access-file-"));
  });

  after(async () => {
    await origin?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const startEdge = (accessLog: Record<string, unknown>) =>
    startTestEdge(ca, { log: { accessLog }, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }] }] });

  async function get(edge: TestEdge, paths: string[]): Promise<void> {
    const client = createViewerClient(edge.edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
    try {
      for (const path of paths) assert.equal((await viewerRequest(client, { path, host: "shop.test" })).status, 200);
    } finally {
      await client.close();
    }
  }

  async function linesIn(folder: string): Promise<Record<string, unknown>[]> {
    const lines: Record<string, unknown>[] = [];
    for (const name of await readdir(folder)) {
      // A file listed may be rolled away (deleted past `keep`) before it is read.
      const text = await readFile(join(folder, name), "utf8").catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? "" : Promise.reject(error)));
      for (const line of text.split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return lines;
  }

  test("request lines go to the file (mode 0640, its directory made), not stdout; event lines stay on stdout", async () => {
    const folder = join(dir, "one", "logs");
    const edge = await startEdge({ file: join(folder, "access.log") });
    try {
      await get(edge, ["/file/1", "/file/2"]);
    } finally {
      await edge.close();
    }
    assert.deepEqual(await readdir(folder), ["access.1.log"]);
    assert.equal((await stat(join(folder, "access.1.log"))).mode & 0o777, 0o640);
    const lines = await linesIn(folder);
    assert.deepEqual(lines.map((line) => [line.msg, line.path, line.status, line.distribution]), [["request", "/file/1", 200, "shop"], ["request", "/file/2", 200, "shop"]]);
    assert.match(String(lines[0]?.traceId), /^[0-9a-f]{32}$/);
    assert.equal(edge.logs.filter((line) => line.msg === "request").length, 0, "no request line on stdout");
    assert.ok(edge.logs.some((line) => line.msg !== "request"), "the edge's own events are still on stdout");
  });

  test("the file rolls over past its size and keeps the newest `keep` rolled files besides the current one", async () => {
    const folder = join(dir, "two");
    const edge = await startEdge({ file: join(folder, "access.log"), rotate: { size: "2KiB", keep: 2 } });
    try {
      // Batches of lines, each flushed (at most 100 ms after its first line) before the next: each batch rolls the file.
      for (let batch = 0; batch < 6; batch++) {
        await get(edge, Array.from({ length: 8 }, (_, index) => `/roll/${batch}/${index}`));
        await waitFor(async () => (await linesIn(folder)).some((line) => line.path === `/roll/${batch}/7`), `batch ${batch} in the file`);
      }
    } finally {
      await edge.close();
    }
    const names = (await readdir(folder)).sort();
    assert.ok(names.length <= 3, `at most 2 rolled files and the current one: ${names.join(", ")}`);
    assert.ok(names.every((name) => /^access\.\d+\.log$/.test(name)), names.join(", "));
    assert.ok(Math.max(...names.map((name) => Number(name.split(".")[1]))) >= 4, `rolled several times: ${names.join(", ")}`);
    // The newest lines are kept, the oldest went with their files.
    const paths = new Set((await linesIn(folder)).map((line) => line.path));
    assert.ok(paths.has("/roll/5/7"));
    assert.ok(!paths.has("/roll/0/0"));
  });

  test("with workers each process writes its own file: the worker's number before the extension", () => {
    assert.equal(accessFileBase("/var/log/moat/access.log", undefined), "/var/log/moat/access.log");
    assert.equal(accessFileBase("/var/log/moat/access.log", 2), "/var/log/moat/access-w2.log");
    assert.equal(accessFileBase("/var/log/moat/access", 1), "/var/log/moat/access-w1");
  });
});

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after 5 s waiting for ${what}`);
    await sleep(20);
  }
}
