// The admin API's own server certificate: issued by Moat's CA for the names clients use, renewed at two thirds of its life.
import type { Logger } from "pino";
import type { CertificateAuthority, IssuedCertificate } from "../pki/index.ts";

const UNSPECIFIED_ADDRESSES = new Set(["0.0.0.0", "::", ""]);
// A failed renewal is retried this often until it works (the current certificate serves meanwhile).
const RETRY_MS = 60_000;
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
  stop(): void;
}

export async function keepServerCertificate(options: {
  ca: CertificateAuthority;
  names: { dnsNames: string[]; ipAddresses: string[] };
  validityMs: number;
  clock: () => Date;
  log: Logger;
}): Promise<ServerCertificateKeeper> {
  const issue = () => options.ca.issueServerCertificate({ ...options.names, validityMs: options.validityMs });
  let current = await issue();
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  const schedule = (onRenewed: (next: IssuedCertificate) => void) => {
    if (isStopped) return;
    const lifeMs = current.notAfter.getTime() - current.notBefore.getTime();
    const dueInMs = current.notBefore.getTime() + (lifeMs * 2) / 3 - options.clock().getTime();
    timer = setTimeout(() => {
      issue()
        .then((next) => {
          current = next;
          onRenewed(next);
          options.log.info({ serial: next.serialHex, notAfter: next.notAfter }, "admin API server certificate renewed");
        })
        .catch((error: unknown) => options.log.error({ err: error }, "admin API server certificate renewal failed; the current one serves until a retry works"))
        .finally(() => schedule(onRenewed));
    }, Math.max(RETRY_MS, Math.min(dueInMs, MAX_TIMER_MS)));
    timer.unref();
  };
  return {
    get current() {
      return current;
    },
    start: schedule,
    stop() {
      isStopped = true;
      clearTimeout(timer);
    },
  };
}
