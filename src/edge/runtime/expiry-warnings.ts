// Imported certificates cannot renew themselves: the edge warns 30, 7 and 1 days before each expires, when a snapshot goes live and when a threshold passes while it runs.
import type { Logger } from "../../observe/index.ts";
import { expiryWarning } from "../../pki/index.ts";
import type { CertificateUse, Clock, ExpiryWarning } from "../../pki/index.ts";

/** An imported certificate a snapshot serves or presents, named for the log (never its key). */
export interface ImportedCertificateInUse {
  /** Where the config imports it, e.g. `distributions[0].viewerCertificate`. */
  path: string;
  use: CertificateUse;
  /** The files to replace with the renewed certificate. */
  files: readonly string[];
  serialHex: string;
  fingerprint256: string;
  notAfter: Date;
}

export interface ExpiryWarnings {
  /** Warns now for `built`'s certificates within a threshold, and arms the timers for the next ones; replaces the earlier plan. */
  plan(built: { imported: readonly ImportedCertificateInUse[] }): void;
  stop(): void;
}

const DAY_MS = 86_400_000;
// As expiryWarning counts them; the last crossing is the expiry itself.
const THRESHOLD_DAYS = [30, 7, 1] as const;
// setTimeout holds at most 2^31 − 1 ms (24.8 days); a later crossing re-arms on the way.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Later than this (a suspended host), the warning says how things stand now.
const LATE_TIMER_SLACK_MS = 60_000;
// Config paths a warning lists besides its first; `places` counts them all. Ten thousand aliases on one certificate make one line, not a 10 000-entry array.
const MAX_ALSO_AT = 20;

/** One certificate (the same files, use and certificate) and every config path that imports it: one warning and one timer for all of them. */
interface ImportedCertificatePlaces {
  certificate: ImportedCertificateInUse;
  /** Every other path that imports it, in config order. */
  others: string[];
}

/**
 * One timer per imported certificate (places that import the same files share it), unref'd, to the next threshold (30, 7, 1 days before
 * notAfter, then notAfter itself); each timer logs the warning it reached and arms the next.
 *
 * @example
 * const expiryWarnings = scheduleExpiryWarnings(built, log); // at start
 * expiryWarnings.plan(next); // after each reload or rebuild
 * expiryWarnings.stop(); // on stop
 */
export function scheduleExpiryWarnings(
  built: { imported: readonly ImportedCertificateInUse[] },
  log: Logger,
  options: {
    now?: Clock;
    /** Called with each warning logged (again at every snapshot applied: the listener keeps one per threshold); not awaited. */
    onWarning?(certificate: ImportedCertificateInUse, warning: ExpiryWarning, isExpired: boolean): void;
  } = {},
): ExpiryWarnings {
  const now = options.now ?? (() => new Date());
  const certificatesLog = log.child({ part: "certificates" });
  const timers = new Set<NodeJS.Timeout>();

  function arm(places: ImportedCertificatePlaces): void {
    const at = nextCrossing(places.certificate.notAfter, now());
    if (at === null) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const lateMs = now().getTime() - at.getTime();
      // A timer fires a little late, which would read as "6 days left" at the 7-day threshold: judge it at the crossing it was set for.
      if (lateMs >= 0) warn(places, lateMs < LATE_TIMER_SLACK_MS ? at : now(), certificatesLog, options.onWarning);
      arm(places);
    }, Math.min(Math.max(at.getTime() - now().getTime(), 0), MAX_TIMER_MS));
    timer.unref();
    timers.add(timer);
  }

  function stop(): void {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  }

  function plan(next: { imported: readonly ImportedCertificateInUse[] }): void {
    stop();
    for (const places of byCertificate(next.imported)) {
      warn(places, now(), certificatesLog, options.onWarning);
      arm(places);
    }
  }

  plan(built);
  return { plan, stop };
}

function byCertificate(imported: readonly ImportedCertificateInUse[]): ImportedCertificatePlaces[] {
  const groups = new Map<string, ImportedCertificatePlaces>();
  for (const certificate of imported) {
    const key = [certificate.use, certificate.fingerprint256, certificate.notAfter.getTime(), ...certificate.files].join("\0");
    const group = groups.get(key);
    if (group) group.others.push(certificate.path);
    else groups.set(key, { certificate, others: [] });
  }
  return [...groups.values()];
}

/** The next instant after `now` at which the certificate reaches a tighter threshold or expires; null once it has expired. */
function nextCrossing(notAfter: Date, now: Date): Date | null {
  // RFC 5280 §4.1.2.5: valid through notAfter inclusive, so it is expired 1 ms later.
  const crossings = [...THRESHOLD_DAYS.map((days) => notAfter.getTime() - days * DAY_MS), notAfter.getTime() + 1];
  const next = crossings.find((time) => time > now.getTime());
  return next === undefined ? null : new Date(next);
}

function warn({ certificate, others }: ImportedCertificatePlaces, now: Date, log: Logger, onWarning?: (certificate: ImportedCertificateInUse, warning: ExpiryWarning, isExpired: boolean) => void): void {
  const warning = expiryWarning(certificate.notAfter, now);
  if (!warning) return;
  onWarning?.(certificate, warning, now.getTime() > certificate.notAfter.getTime());
  const fields = {
    certificate: certificate.path,
    use: certificate.use,
    files: certificate.files,
    serial: certificate.serialHex,
    fingerprint256: certificate.fingerprint256,
    notAfter: certificate.notAfter.toISOString(),
    ...warning,
    // The same certificate imported at other places of the config (one wildcard certificate for many distributions).
    ...(others.length > 0 ? { places: 1 + others.length, alsoAt: others.slice(0, MAX_ALSO_AT) } : {}),
  };
  if (now.getTime() > certificate.notAfter.getTime()) {
    log.error(fields, "imported certificate has expired: peers refuse it; replace its files with a renewed certificate and reload (SIGHUP)");
    return;
  }
  const days = warning.daysLeft === 1 ? "1 day" : `${warning.daysLeft} days`;
  log.warn(fields, `imported certificate expires in ${days} (${warning.thresholdDays}-day warning): it cannot renew itself; replace its files with a renewed certificate and reload (SIGHUP)`);
}
