// Preloaded with `node --import`: records every module the process loads and writes their URLs, one a line, to $MOAT_LOADED_MODULES_FILE at exit (a cluster worker, which inherits the flag, to that name plus `.worker-<pid>`; a worker thread, which inherits it too, plus `.thread-<pid>-<threadId>`), then Node's own internal modules as `internal:<id>` (process.moduleLoadList).
import cluster from "node:cluster";
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { isMainThread, threadId } from "node:worker_threads";

const loaded = new Set<string>();
registerHooks({
  load(url, context, next) {
    loaded.add(url);
    return next(url, context);
  },
});
process.on("exit", () => {
  const file = process.env.MOAT_LOADED_MODULES_FILE;
  // Node's list of the builtins it loaded (NativeModule) and the bindings (Internal Binding): not in @types/node.
  const moduleLoadList = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
  const internal = moduleLoadList.filter((entry) => entry.startsWith("NativeModule ")).map((entry) => `internal:${entry.slice("NativeModule ".length)}`);
  if (!file) return;
  const name = !isMainThread ? `${file}.thread-${process.pid}-${threadId}` : cluster.isWorker ? `${file}.worker-${process.pid}` : file;
  writeFileSync(name, [...loaded, ...internal].join("\n"));
});
