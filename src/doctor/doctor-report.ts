// A doctor's findings: a list of checks, each passed, failed (with its stable code, cause and fix) or skipped; printed for people or as JSON.

export type CheckStatus = "pass" | "fail" | "skip";

export interface DoctorCheck {
  /** Stable name of the check, e.g. `tls-handshake`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly summary: string;
  /** For a failure: the stable code (the edge's own where it has one, e.g. `origin-cert-expired`). */
  readonly code?: string;
  /** For a failure: why, in plain words. */
  readonly cause?: string;
  /** For a failure: what to do about it. */
  readonly fix?: string;
  /** Further lines shown under the check: the chain, the CA names. */
  readonly details?: readonly string[];
}

export interface DoctorReport {
  /** What was examined: "origin api of distribution shop (https://api.internal:9443)". */
  readonly subject: string;
  readonly checks: readonly DoctorCheck[];
  /** True when no check failed. */
  readonly ok: boolean;
}

/** A report of these checks: ok when none failed. */
export function doctorReport(subject: string, checks: readonly DoctorCheck[]): DoctorReport {
  return { subject, checks, ok: checks.every((check) => check.status !== "fail") };
}

const MARKS: Readonly<Record<CheckStatus, string>> = { pass: "✓", fail: "✗", skip: "-" };

/** The report as people read it: a mark per check, and under each failure its code, cause and fix. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`moat doctor: ${report.subject}`];
  for (const check of report.checks) {
    lines.push(`${MARKS[check.status]} ${check.id}: ${check.summary}`);
    for (const detail of check.details ?? []) lines.push(`    ${detail}`);
    if (check.status !== "fail") continue;
    if (check.code) lines.push(`    code:  ${check.code}`);
    if (check.cause) lines.push(`    cause: ${check.cause}`);
    if (check.fix) lines.push(`    fix:   ${check.fix}`);
  }
  const failed = report.checks.filter((check) => check.status === "fail").length;
  lines.push(failed === 0 ? "all checks passed" : `${failed} check(s) failed`);
  return `${lines.join("\n")}\n`;
}
