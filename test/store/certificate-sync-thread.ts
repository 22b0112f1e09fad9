// Another process's syncs of the same edge's renewal, from another thread (node:sqlite waits for a lock synchronously):
// each finds 0b rotated in place of 0a and gives the store that event with its once-keys.
import { parentPort, workerData } from "node:worker_threads";
import { openStore } from "../../src/store/index.ts";
import { renewalEntries, rotationOf } from "./certificate-entries.ts";
import { validate } from "./store-contract.ts";

const { address, syncs } = workerData as { address: string; syncs: number };
const store = await openStore({ address, validate });
let recorded = 0;
await Promise.all(Array.from({ length: syncs }, () => store.certificates.sync("edge-a", renewalEntries(), { now: new Date(), events: rotationOf, recorded: (events) => (recorded += events.length) })));
await store.close();
parentPort?.postMessage(recorded);
