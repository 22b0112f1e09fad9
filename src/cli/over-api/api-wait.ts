// Waiting for a long operation over the admin API (a rotation, an invalidation across workers): its state polled until done or the --wait deadline, each change of state on stderr.
import { setTimeout as sleep } from "node:timers/promises";
import { parseDuration } from "../../config/index.ts";
import { ApiWaitDeadlineError, CliUsageError } from "../../errors.ts";

export const WAIT_FLAGS = { wait: { type: "string" }, "no-wait": { type: "boolean", default: false } } as const;

const POLL_INTERVAL_MS = 250;

/** --wait DURATION (`fallback` when absent) or --no-wait (0: do not wait). */
export function parseWaitFlags(command: string, values: { wait?: string | undefined; "no-wait"?: boolean | undefined }, fallback: string): { ms: number; text: string } {
  if (values["no-wait"]) {
    if (values.wait !== undefined) throw new CliUsageError(`${command}: give --wait or --no-wait, not both.`);
    return { ms: 0, text: "0s" };
  }
  const text = values.wait ?? fallback;
  try {
    return { ms: parseDuration(text), text };
  } catch (error) {
    throw new CliUsageError(`${command}: --wait ${(error as Error).message}`);
  }
}

export type Polled<T> = { isDone: true; value: T } | { isDone: false; state: string };

/**
 * Polls until `poll` says done, printing each new state on stderr as `moat: STATE`; past the deadline, ApiWaitDeadlineError
 * names the last state and the command that shows it later (the request itself stands).
 * @example
 * const item = await waitUntilDone({ what: "the invalidation to be applied", wait, check: "moat cache invalidate --help", poll: async () => … });
 */
export async function waitUntilDone<T>(options: { what: string; wait: { ms: number; text: string }; check: string; poll: () => Promise<Polled<T>> }): Promise<T> {
  const deadline = Date.now() + options.wait.ms;
  let shown = "";
  for (;;) {
    const polled = await options.poll();
    if (polled.isDone) return polled.value;
    if (polled.state !== shown) {
      shown = polled.state;
      process.stderr.write(`moat: ${shown}\n`);
    }
    if (Date.now() + POLL_INTERVAL_MS > deadline) throw new ApiWaitDeadlineError(options.what, options.wait.text, shown, options.check);
    await sleep(POLL_INTERVAL_MS);
  }
}
