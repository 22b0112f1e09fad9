// The entry of the short-lived thread that loads a config file for `moat start` (config-thread.ts): the schema (zod) and the YAML parser load in this thread's isolate, which ends once it has answered.
import { parentPort, workerData } from "node:worker_threads";
import { loadConfigFile } from "../../config/index.ts";
import type { ConfigThreadReply, SentError } from "./config-thread.ts";

const { file } = workerData as { file: string };
let reply: ConfigThreadReply;
try {
  reply = { ok: true, config: await loadConfigFile(file) };
} catch (error) {
  reply = { ok: false, error: sent(error) };
}
parentPort!.postMessage(reply);

/** What the serving thread needs to rebuild the error as it was thrown: its class (by name), message, stack, own fields (code, issues, fix, …) and its cause's text. */
function sent(error: unknown): SentError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), stack: undefined, own: {}, cause: undefined };
  const cause = error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message, code: (error.cause as { code?: unknown }).code } : undefined;
  // A JSON round trip keeps the own fields cloneable (issues are plain objects; a stray function or socket would fail postMessage).
  const own = JSON.parse(JSON.stringify({ ...error })) as Record<string, unknown>;
  return { name: error.name, message: error.message, stack: error.stack, own, cause };
}
