import { ProcessGroup } from "../compare/processes.ts";
import { findBenchTools } from "../compare/tools.ts";
import { treeStats } from "../compare/proc-stats.ts";
import { startScaleScene, aliasOf } from "./scale-scene.ts";
import { fillKeys, runRandomHits } from "./scale-load.ts";
const found = findBenchTools(); if (!found.ok) throw new Error("tools");
const tools = found.tools; const group = new ProcessGroup();
process.once("exit", () => group.killAllNow());
const scene = await startScaleScene({ tools, group });
const n = Number(process.argv[2] ?? 50);
const edge = await scene.startEdge("many", n);
const one = await scene.startEdge("one", 1);
await fillKeys(tools, group, { port: one.port, host: aliasOf(0), count: 1000, cpu: "1" });
const probed = Array.from({ length: 8 }, (_, i) => aliasOf(Math.floor((i * n) / 8)));
for (const host of probed) await fillKeys(tools, group, { port: edge.port, host, count: 1000, cpu: "1" });
const idle = async (e: typeof edge) => { const b = treeStats(e.process.pid).cpuMicros; await new Promise((r) => setTimeout(r, 3000)); return Math.round((treeStats(e.process.pid).cpuMicros - b) / 3000); };
console.log("idle CPU µs per ms: many", await idle(edge), "one", await idle(one));
const run = async (label: string, hosts: string[], e = edge) => {
  const before = treeStats(e.process.pid).cpuMicros;
  const r = await runRandomHits(tools, group, { port: e.port, hosts, connectionsPerHost: 4, keys: 1000, durationS: 3, cpu: "1" });
  console.log(label, Math.round(r.requestsPerSecond), Math.round((treeStats(e.process.pid).cpuMicros - before) / r.succeeded), r.errors);
};
for (let i = 0; i < 3; i++) { await run("all-d0", probed.map(() => aliasOf(0))); await run("spread", probed); await run("one-d0", probed.map(() => aliasOf(0)), one); }
await scene.close(); await group.stopAll();
