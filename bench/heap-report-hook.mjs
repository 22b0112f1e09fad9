// Preloaded by `npm run bench:idle -- --heap` (node --import; JavaScript, so that the measured process strips no types): on SIGUSR2 writes process.memoryUsage() and V8's heap spaces to $MOAT_BENCH_HEAP_DIR/heap-<pid>.json.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { getHeapSpaceStatistics } from "node:v8";

const dir = process.env.MOAT_BENCH_HEAP_DIR;
if (dir) {
  process.on("SIGUSR2", () => {
    const report = { memoryUsage: process.memoryUsage(), spaces: getHeapSpaceStatistics() };
    writeFileSync(join(dir, `heap-${process.pid}.json`), JSON.stringify(report));
  });
}
