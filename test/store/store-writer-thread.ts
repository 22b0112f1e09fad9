// A second writer on the same store from another thread: node:sqlite waits for a lock synchronously, so a second
// handle in the test's own thread would block the very event loop the first needs to finish its transaction.
import { parentPort, workerData } from "node:worker_threads";
import { openStore } from "../../src/store/index.ts";
import { distribution, validate } from "./store-contract.ts";

const { address, writes } = workerData as { address: string; writes: { name: string; url: string; ifVersion?: number }[] };
const store = await openStore({ address, validate });
const results = await Promise.allSettled(
  writes.map((write) => store.put("distribution", write.name, distribution(write.name, `${write.name}.example`, write.url), { actor: "other-thread", ifVersion: write.ifVersion })),
);
await store.close();
parentPort?.postMessage(results.map((result) => (result.status === "fulfilled" ? { ok: true, revision: result.value.revision } : { ok: false, code: (result.reason as { code?: string }).code ?? String(result.reason) })));
