// Diagnosis for operators: `moat doctor origin` and `moat doctor viewer` check a connection or a certificate as the edge would and explain each problem with its fix.

/**
 * Connects to an origin as the edge does and lists the checks, each failure with the edge's code, cause and fix.
 * @example
 * const report = await diagnoseOrigin({ options, subject: "origin api of distribution shop" }, { timeoutMs: 5000 });
 * if (!report.ok) process.exitCode = 1;
 */
export { diagnoseOrigin } from "./origin-doctor.ts";
export type { OriginDoctorOptions, OriginDoctorTarget } from "./origin-doctor.ts";

/**
 * Judges a viewer certificate against a trust store with the edge's own verdict function.
 * @example
 * const report = await diagnoseViewer({ certFile, certPem, trustStore, caBundleFile, crlFiles, subject }, { timeoutMs: 5000 });
 */
export { diagnoseViewer } from "./viewer-doctor.ts";
export type { ViewerDoctorTarget } from "./viewer-doctor.ts";

/**
 * The report's text for people: ✓/✗ per check, and each failure's code, cause and fix.
 * @example
 * process.stdout.write(formatDoctorReport(report));
 */
export { formatDoctorReport } from "./doctor-report.ts";
export type { CheckStatus, DoctorCheck, DoctorReport } from "./doctor-report.ts";
