// A process that logs to the default destination (batched stdout) and then stops as argv[2] says: "exit" (process.exit
// at once, lines still waiting), "natural" (the event loop runs dry), "sigterm" (on SIGTERM it logs a line and lets
// the event loop run dry, as `moat start` does once drained) or "slow" (it logs, says so over IPC while its reader
// reads nothing, and stops when told).
import { createAccessLog, createLogger } from "../../src/observe/index.ts";
import { descriptorKind, isNonBlocking } from "../../src/observe/batch-targets.ts";

const [, , how = "exit", countText = "5000"] = process.argv;
const count = Number(countText);
const log = createLogger({ level: "info" });
const access = createAccessLog(log);
// How this process writes its stdout: "file" synchronously; "pipe" (a pipe or a socket) without blocking.
const writing = { kind: descriptorKind(1), isNonBlocking: isNonBlocking(1) };
if (how === "slow") {
  // About 1 KiB a line: enough lines to fill the pipe and the queue behind it.
  for (let index = 0; index < count; index++) access.write({ index, path: "/slow".padEnd(1000, "x") });
  process.send?.({ type: "logged", ...writing });
  process.on("message", () => process.disconnect?.());
} else {
  for (let index = 0; index < count; index++) {
    // Both loggers share the destination: their lines keep the order they were logged in.
    if (index % 2 === 0) access.write({ index, path: "/a".padEnd(200, "x") });
    else log.info({ index }, "other");
  }
}
if (how === "exit") process.exit(0);
if (how === "sigterm") {
  const alive = setInterval(() => {}, 1000);
  process.on("SIGTERM", () => {
    log.info({ index: count }, "stopping");
    clearInterval(alive);
    process.disconnect?.();
  });
  process.send?.({ type: "ready", ...writing });
}
