// Wakes the edge when a certificate is due for renewal, and retries a failed renewal with a growing delay.
import { edgeMetrics } from "../../observe/index.ts";
import type { Logger } from "../../observe/index.ts";

export interface RenewalScheduler {
  /** Arms the timer for `at` (null: nothing to renew); replaces any earlier plan. */
  plan(at: Date | null): void;
  stop(): void;
}

const minDelayMs = 250;
const maxRetryDelayMs = 5 * 60_000;
// setTimeout holds at most 2^31 − 1 ms (24.8 days); a later renewal re-arms on the way.
const maxTimerMs = 2 ** 31 - 1;

/**
 * @example
 * const scheduler = createRenewalScheduler({ renew: () => edge.apply(config), log, describeValidity: () => "valid until …" });
 * scheduler.plan(built.renewAt);
 */
export function createRenewalScheduler(deps: { renew(): Promise<void>; log: Logger; now?: () => number }): RenewalScheduler {
  const now = deps.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let isStopped = false;

  function arm(delayMs: number): void {
    clearTimeout(timer);
    if (isStopped) return;
    timer = setTimeout(run, Math.min(Math.max(delayMs, minDelayMs), maxTimerMs));
    timer.unref();
  }

  function run(): void {
    deps.renew().then(
      () => {
        failures = 0;
        edgeMetrics?.rotation("certificate", "succeeded");
      },
      (error: Error & { code?: string }) => {
        failures++;
        edgeMetrics?.rotation("certificate", "failed");
        const retryMs = Math.min(1000 * 2 ** (failures - 1), maxRetryDelayMs);
        // Loud on purpose: the certificates in use keep working only until they expire.
        deps.log.error({ attempts: failures, retryInMs: retryMs, error: { code: error.code, message: error.message } }, "certificate renewal failed; the current certificates stay in use; retrying");
        arm(retryMs);
      },
    );
  }

  return {
    plan(at) {
      if (at === null) return clearTimeout(timer);
      arm(at.getTime() - now());
    },
    stop() {
      isStopped = true;
      clearTimeout(timer);
    },
  };
}
