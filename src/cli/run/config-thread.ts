// Loads a config file in a short-lived worker thread: the schema (zod) and the YAML parser load in that thread's isolate and are freed when it ends, so a serving thread never holds them (issue 13; docs/BENCHMARKS.md, idle memory).
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { deepFreeze } from "../../config/freeze.ts";
import type { MoatConfig } from "../../config/index.ts";
import * as errors from "../../errors.ts";
import { ConfigThreadError, MoatError } from "../../errors.ts";

/** How long the thread may take: generous, since a config of many thousands of distributions on a busy host takes seconds; a reload that waits this long keeps the running config meanwhile. */
export const CONFIG_THREAD_DEADLINE_MS = 60_000;

/** How long a thread that has answered may take to end before it is terminated. */
const EXIT_GRACE_MS = 1_000;

/** The thread's one message: the normalised config (a structured clone, not frozen), or the error it threw. */
export type ConfigThreadReply = { ok: true; config: MoatConfig } | { ok: false; error: SentError };

/** An error as it crosses threads: structured clone keeps neither its class nor its own fields (code, issues). */
export interface SentError {
  name: string;
  message: string;
  stack: string | undefined;
  own: Record<string, unknown>;
  cause: { name: string; message: string; code: unknown } | undefined;
}

// .ts when run from src/ (Node strips the types), .js from dist/: tsc rewrites the extensions of imports, not of URLs.
const ENTRY = new URL(`./config-thread-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * loadConfigFile(file), run in a thread of its own: the config deep-frozen, or the very error loadConfigFile threw
 * (ConfigInvalidError, ConfigUnreadableError, … with the same code, message, issues and fix). A thread that crashes,
 * exits without answering or misses `deadlineMs` rejects with ConfigThreadError. The thread has ended (or been terminated) before
 * the promise settles.
 * @example
 * const config = await loadConfigInThread("/etc/moat/moat.yaml");
 */
export function loadConfigInThread(file: string, options: { deadlineMs?: number; entry?: URL } = {}): Promise<MoatConfig> {
  const deadlineMs = options.deadlineMs ?? CONFIG_THREAD_DEADLINE_MS;
  return new Promise<MoatConfig>((resolve, reject) => {
    // stdout/stderr go to this process's own (a crash's trace included); the environment is a copy of this one's (${VAR} in the file).
    const worker = new Worker(options.entry ?? ENTRY, { workerData: { file } });
    let reply: ConfigThreadReply | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(lingering);
      // Ended before the answer is given (a no-op once it has exited): its isolate (zod, yaml, the document) is let go of before the edge goes on.
      void worker.terminate().then(outcome, outcome);
    };
    const answer = (sent: ConfigThreadReply) => () => (sent.ok ? resolve(deepFreeze(sent.config)) : reject(rebuilt(sent.error)));
    const deadline = setTimeout(() => settle(() => reject(new ConfigThreadError(file, `gave no answer within ${deadlineMs} ms`))), deadlineMs);
    let lingering: NodeJS.Timeout | undefined;
    worker.once("message", (sent: ConfigThreadReply) => {
      reply = sent;
      // It ends on its own once it has answered (its exit listeners run); one that lingers is terminated.
      lingering = setTimeout(() => settle(answer(sent)), EXIT_GRACE_MS);
    });
    worker.once("error", (error: Error) => settle(reply ? answer(reply) : () => reject(new ConfigThreadError(file, `failed: ${error.message}`, { cause: error }))));
    worker.once("exit", (code: number) => settle(reply ? answer(reply) : () => reject(new ConfigThreadError(file, `exited (code ${code}) without an answer`))));
  });
}

/** The error the thread threw, as an instance of the same class of errors.ts (a native Error all the same), with its fields and stack. */
function rebuilt(sent: SentError): Error {
  const found = (errors as Record<string, unknown>)[sent.name];
  const Class = typeof found === "function" && found.prototype instanceof MoatError ? (found as new (...args: never[]) => Error) : Error;
  const cause = sent.cause && Object.assign(new Error(sent.cause.message), { name: sent.cause.name, ...(sent.cause.code !== undefined ? { code: sent.cause.code } : {}) });
  // Its constructor is not run (its arguments are gone): the fields it set are copied back instead.
  const error = Reflect.construct(Error, cause ? [sent.message, { cause }] : [sent.message], Class) as Error;
  Object.assign(error, sent.own);
  if (Class === Error) error.name = sent.name;
  if (sent.stack !== undefined) error.stack = sent.stack;
  return error;
}
