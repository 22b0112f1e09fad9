// Keeps an enrolled host current: renews its certificate at its renewal time and refreshes the CRL at half its life, retrying failures with a growing delay.
import type { Logger } from "../observe/index.ts";
import { readEnrolmentState, refreshTrust, renewHost, type EnrolmentState } from "./enrol-client.ts";

const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 60 * 60_000;

export interface EnrolmentKeeper {
  stop(): void;
}

/** Does whatever is due at `now`; returns the new state. (The renewal proof is dated by the real clock: the CA checks it against its own.) */
export async function runDueWork(dir: string, now: Date, log: Logger): Promise<EnrolmentState> {
  let state = await readEnrolmentState(dir);
  if (new Date(state.renewAt) <= now) {
    state = await renewHost({ dir });
    log.info({ notAfter: state.notAfter, renewAt: state.renewAt }, "renewed this host's certificate");
  }
  if (new Date(state.trustRefreshAt) <= now) {
    state = await refreshTrust({ dir });
    log.info({ trustRefreshAt: state.trustRefreshAt }, "refreshed the CA bundle and CRL");
  }
  return state;
}

/**
 * @example
 * const keeper = keepEnrolmentCurrent({ dir: "/etc/moat-guard", log }); // until keeper.stop()
 */
export function keepEnrolmentCurrent(options: { dir: string; log: Logger; clock?: () => Date }): EnrolmentKeeper {
  const clock = options.clock ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let retryMs = FIRST_RETRY_MS;
  let isStopped = false;
  const schedule = (delayMs: number) => {
    if (isStopped) return;
    // setTimeout holds at most ~24.8 days; wake up then and look again.
    timer = setTimeout(tick, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
  };
  const tick = () => {
    runDueWork(options.dir, clock(), options.log).then(
      (state) => {
        retryMs = FIRST_RETRY_MS;
        const next = Math.min(new Date(state.renewAt).getTime(), new Date(state.trustRefreshAt).getTime());
        schedule(next - clock().getTime());
      },
      (error: unknown) => {
        options.log.error({ error: (error as { code?: string }).code, detail: (error as Error).message, retryInMs: retryMs }, "enrolment upkeep failed; the current files stay until it succeeds");
        schedule(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      },
    );
  };
  schedule(0);
  return {
    stop: () => {
      isStopped = true;
      clearTimeout(timer);
    },
  };
}
