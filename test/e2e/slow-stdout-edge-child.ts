// An edge whose stdout (its access log) is a pipe nobody reads yet: it fills the pipe and the queue behind it with
// lines, serves requests, says over IPC how they went, and stops when told.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/index.ts";
import { runEdge } from "../../src/edge/index.ts";
import { createLogger } from "../../src/observe/index.ts";
import { createEphemeralCertificateAuthority, generateMasterKey } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import { createViewerClient, viewerRequest } from "../support/viewer-client.ts";

const [, , fillerText = "24000", requestsText = "40"] = process.argv;
const ca = await createEphemeralCertificateAuthority();
const origin = await startTestOrigin({ certificate: await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 }), clientCaPem: ca.bundlePem });
const dataDir = await mkdtemp(join(tmpdir(), "moat-slow-stdout-"));
const config = parseConfig(
  { dataDir, listen: { host: "127.0.0.1", https: 0, http: "off" }, distributions: [{ id: "shop", aliases: ["shop.test"], origins: [{ id: "api", url: origin.url }] }] },
  { source: "test", baseDir: dataDir },
);
const log = createLogger({ level: "info" });
const edge = await runEdge({ config, ca, masterKey: generateMasterKey(), log });
// About 1 KiB a line, more than the pipe and the 16 MiB queue hold.
const filler = log.child({ part: "filler" });
for (let index = 0; index < Number(fillerText); index++) filler.info({ index, pad: "f".repeat(960) }, "filler");
const client = createViewerClient(edge.httpsPort, { caPem: ca.bundlePem, servername: "shop.test" });
const statuses: number[] = [];
for (let index = 0; index < Number(requestsText); index++) statuses.push((await viewerRequest(client, { path: `/slow/${index}`, host: "shop.test" })).status);
await client.close();
process.send?.({ type: "served", statuses });
process.once("message", async () => {
  await edge.stop();
  await origin.close();
  await rm(dataDir, { recursive: true, force: true });
  process.disconnect?.();
});
