// A process that logs to the default destination (batched stdout) and then stops as argv[2] says: "exit" (process.exit
// at once, lines still waiting), "natural" (the event loop runs dry) or "sigterm" (on SIGTERM it logs a line and lets
// the event loop run dry, as `moat start` does once drained).
import { createAccessLog, createLogger } from "../../src/observe/index.ts";

const [, , how = "exit", countText = "5000"] = process.argv;
const count = Number(countText);
const log = createLogger({ level: "info" });
const access = createAccessLog(log);
for (let index = 0; index < count; index++) {
  // Both loggers share the destination: their lines keep the order they were logged in.
  if (index % 2 === 0) access.write({ index, path: "/a".padEnd(200, "x") });
  else log.info({ index }, "other");
}
if (how === "exit") process.exit(0);
if (how === "sigterm") {
  const alive = setInterval(() => {}, 1000);
  process.on("SIGTERM", () => {
    log.info({ index: count }, "stopping");
    clearInterval(alive);
    process.disconnect?.();
  });
  process.send?.("ready");
}
