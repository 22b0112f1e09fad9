// The admin API's own server certificate: issued by Moat's CA for the names clients use, renewed at two thirds of its life.
import type { Logger } from "pino";
import type { CertificateAuthority, IssuedCertificate } from "../pki/index.ts";

const UNSPECIFIED_ADDRESSES = new Set(["0.0.0.0", "::", ""]);
// A failed renewal is retried this often until it works (the current certificate serves meanwhile).
const RETRY_MS = 60_000;
const ROTATED = "the CA rotated";
// setTimeout's longest delay.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `localhost`, the loopback addresses, the listen address when it is a specific one, and the names asked for. */
export function serverCertificateNames(host: string, extra: { dnsNames?: readonly string[]; ipAddresses?: readonly string[] } = {}): { dnsNames: string[]; ipAddresses: string[] } {
  const isIp = /^[\d.]+$|:/.test(host);
  const ipAddresses = new Set(["127.0.0.1", "::1", ...(extra.ipAddresses ?? [])]);
  const dnsNames = new Set(["localhost", ...(extra.dnsNames ?? [])]);
  if (isIp && !UNSPECIFIED_ADDRESSES.has(host)) ipAddresses.add(host);
  else if (!isIp) dnsNames.add(host);
  return { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] };
}

export interface ServerCertificateKeeper {
  readonly current: IssuedCertificate;
  /** Starts renewing; each new certificate goes to `onRenewed` (which swaps the server's secure context). */
  start(onRenewed: (next: IssuedCertificate) => void): void;
  /**
   * Issues a new certificate now from the CA `ca()` gives (after a CA rotation: the new intermediate or root) and
   * hands it to `onRenewed`; on failure the current one keeps serving and the renewal timer retries.
   */
  renewNow(): Promise<void>;
  stop(): void;
}

export async function keepServerCertificate(options: {
  /** The CA in use: a CA rotation replaces it, and the next certificate comes from the new one. */
  ca: () => CertificateAuthority;
  names: { dnsNames: string[]; ipAddresses: string[] };
  validityMs: number;
  clock: () => Date;
  log: Logger;
}): Promise<ServerCertificateKeeper> {
  const issue = () => options.ca().issueServerCertificate({ ...options.names, validityMs: options.validityMs });
  let current = await issue();
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let renewed: ((next: IssuedCertificate) => void) | undefined;
  const renew = async (why: string) => {
    const next = await issue();
    if (isStopped) return;
    current = next;
    renewed?.(next);
    options.log.info({ serial: next.serialHex, notAfter: next.notAfter, why }, "admin API server certificate renewed");
  };
  // `reason` says why the next renewal happens: at two thirds of the life, or a retry of a failed one after a CA rotation.
  const schedule = (reason = "two thirds of its life") => {
    if (isStopped) return;
    clearTimeout(timer);
    const lifeMs = current.notAfter.getTime() - current.notBefore.getTime();
    const dueInMs = reason === ROTATED ? 0 : current.notBefore.getTime() + (lifeMs * 2) / 3 - options.clock().getTime();
    timer = setTimeout(() => {
      renew(reason)
        .then(() => schedule())
        .catch((error: unknown) => {
          options.log.error({ err: error }, "admin API server certificate renewal failed; the current one serves until a retry works");
          schedule(reason);
        });
    }, Math.max(RETRY_MS, Math.min(dueInMs, MAX_TIMER_MS)));
    timer.unref();
  };
  return {
    get current() {
      return current;
    },
    start(onRenewed) {
      renewed = onRenewed;
      schedule();
    },
    async renewNow() {
      try {
        await renew(ROTATED);
      } catch (error) {
        options.log.error({ err: error }, "admin API server certificate renewal after a CA rotation failed; the current one serves until a retry works");
        schedule(ROTATED);
        return;
      }
      schedule();
    },
    stop() {
      isStopped = true;
      clearTimeout(timer);
    },
  };
}
