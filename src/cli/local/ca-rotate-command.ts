// `moat ca renew-intermediate`, `moat ca rollover`, `moat ca status`, `moat ca publication`: CA rotation by hand, what the CA's generations look like now, and where its CRLs are published.
import { join } from "node:path";
import { isDataDirInEnvironment, parseDuration, resolveDataDir } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { DEFAULT_CA_ROTATION_POLICY, KEY_ALGORITHMS, readCaBundle, readCaPublication, readCaStatus, runCaRotationStep, writeCaPublication } from "../../pki/index.ts";
import type { CaRotationPolicy, KeyAlgorithm } from "../../pki/index.ts";
import { API_FLAGS, isOverApi } from "../over-api/api-connection.ts";
import type { ApiFlagValues } from "../over-api/api-connection.ts";
import { caRotationEvent, crlPublishedEvent } from "../../control/audit-events.ts";
import { cliActor, withCommandAudit } from "./audit-recording.ts";
import type { CommandAudit } from "./audit-recording.ts";
import { parseCliArgs } from "../cli-args.ts";
import { crlBaseUrlFlag } from "./ca-command.ts";
import { openCaForCrl } from "./crl-command.ts";

function durationFlag(command: string, flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new CliUsageError(`${command}: --${flag}: ${(error as Error).message}`);
  }
}

/**
 * Whether a `moat ca …` command runs over the admin API: not with --data-dir, --master-key-file or --store (or MOAT_DATA_DIR when
 * no --api or --context is given), as `moat store log` decides it. --json of a rotation step belongs to the API form.
 */
export async function isCaOverApi(command: string, values: ApiFlagValues & { "data-dir"?: string | undefined; "master-key-file"?: string | undefined; store?: string | undefined }): Promise<boolean> {
  const isNamed = values["data-dir"] !== undefined || values["master-key-file"] !== undefined || values.store !== undefined;
  return isOverApi(command, values, { isNamed, isInEnvironment: isDataDirInEnvironment() });
}

function refuseJsonLocally(command: string, json: boolean | undefined): void {
  if (json) throw new CliUsageError(`${command}: --json prints the admin API's answer; the data directory's form prints text.`, { fix: "give --api URL (or MOAT_API, or a context), or leave --json out" });
}

/** After a step (which published a fresh CRL): what to tell the operator. */
function describeStep(dataDir: string, done: Awaited<ReturnType<typeof runCaRotationStep>>): void {
  process.stdout.write(
    `${done.result.summary}.\n` +
      `Published a fresh CRL: ${join(dataDir, "ca", "crl-bundle.pem")}.\n` +
      (done.reissuesLeaves
        ? "A running edge on this data directory picks the change up by itself and re-issues its certificates from the new intermediate.\n"
        : "A running edge on this data directory picks the new bundle up by itself; no certificate is re-issued.\n"),
  );
}

/** With --store: the step and its CRL in the store's audit trail. */
async function recordStep(audit: CommandAudit | undefined, done: Awaited<ReturnType<typeof runCaRotationStep>>, dataDir: string): Promise<number> {
  const actor = cliActor();
  if (!audit) return 0;
  const recorded = await audit.record([caRotationEvent(actor, done.result), crlPublishedEvent(actor, done.crl)]);
  return (await audit.certificatesChanged({ dataDir })) || recorded;
}

export async function runCaRenewIntermediate(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca renew-intermediate", args, {
    "data-dir": { type: "string" },
    validity: { type: "string" },
    "master-key-file": { type: "string" },
    json: { type: "boolean" },
    ...API_FLAGS,
    store: { type: "string" },
  });
  if (await isCaOverApi("ca renew-intermediate", values)) return (await import("../over-api/ca-api-command.ts")).runCaRenewIntermediateOverApi(values);
  refuseJsonLocally("ca renew-intermediate", values.json);
  const policy: CaRotationPolicy = {
    ...DEFAULT_CA_ROTATION_POLICY,
    intermediateValidityMs: durationFlag("ca renew-intermediate", "validity", values.validity, DEFAULT_CA_ROTATION_POLICY.intermediateValidityMs),
  };
  const dataDir = resolveDataDir(values["data-dir"]);
  return withCommandAudit("ca renew-intermediate", values.store, async (audit) => {
    const { masterKey } = await openCaForCrl(dataDir, values["master-key-file"]);
    const done = await runCaRotationStep("renew-intermediate", { dataDir, masterKey, policy });
    describeStep(dataDir, done);
    return recordStep(audit, done, dataDir);
  });
}

export async function runCaRollover(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca rollover", args, {
    "data-dir": { type: "string" },
    prepare: { type: "boolean", default: false },
    activate: { type: "boolean", default: false },
    finish: { type: "boolean", default: false },
    overlap: { type: "string" },
    validity: { type: "string" },
    "key-algorithm": { type: "string" },
    "master-key-file": { type: "string" },
    json: { type: "boolean" },
    ...API_FLAGS,
    store: { type: "string" },
  });
  const chosen = (["prepare", "activate", "finish"] as const).filter((step) => values[step]);
  if (chosen.length !== 1) throw new CliUsageError("ca rollover: give exactly one of --prepare, --activate or --finish.", { fix: "run `moat ca status` to see where the rollover is, then `moat ca rollover --help`" });
  if (await isCaOverApi("ca rollover", values)) return (await import("../over-api/ca-api-command.ts")).runCaRolloverOverApi(chosen[0]!, values);
  refuseJsonLocally("ca rollover", values.json);
  const keyAlgorithm = values["key-algorithm"] as KeyAlgorithm | undefined;
  if (keyAlgorithm !== undefined && !KEY_ALGORITHMS.includes(keyAlgorithm)) {
    throw new CliUsageError(`ca rollover: --key-algorithm must be one of ${KEY_ALGORITHMS.join(", ")} (got ${keyAlgorithm}).`);
  }
  const policy: CaRotationPolicy = {
    ...DEFAULT_CA_ROTATION_POLICY,
    rolloverOverlapMs: durationFlag("ca rollover", "overlap", values.overlap, DEFAULT_CA_ROTATION_POLICY.rolloverOverlapMs),
    rootValidityMs: durationFlag("ca rollover", "validity", values.validity, DEFAULT_CA_ROTATION_POLICY.rootValidityMs),
  };
  const dataDir = resolveDataDir(values["data-dir"]);
  return withCommandAudit("ca rollover", values.store, async (audit) => {
    const { masterKey } = await openCaForCrl(dataDir, values["master-key-file"]);
    const step = chosen[0];
    const steps = { prepare: "prepare-root-rollover", activate: "activate-root-rollover", finish: "finish-root-rollover" } as const;
    // With --store, the activation waits for the store's fleet as the API's does; a data directory alone has no fleet to ask.
    const done = await runCaRotationStep(steps[step!], { dataDir, masterKey, policy, ...(keyAlgorithm ? { keyAlgorithm } : {}), ...(audit ? { fleetGate: audit.fleetGate } : {}) });
    describeStep(dataDir, done);
    if (step === "prepare") process.stdout.write(`Origins and viewers should now trust ${join(dataDir, "ca", "bundle.pem")} (moat ca bundle prints it): it holds both roots.\n`);
    return recordStep(audit, done, dataDir);
  });
}

export async function runCaStatus(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca status", args, { "data-dir": { type: "string" }, json: { type: "boolean", default: false }, ...API_FLAGS });
  if (await isCaOverApi("ca status", values)) return (await import("../over-api/ca-api-command.ts")).runCaStatusOverApi(values);
  const dataDir = resolveDataDir(values["data-dir"]);
  await readCaBundle(dataDir);
  // Certificates only: status needs no master key.
  const read = await readCaStatus(dataDir);
  const entries = read.certificates.map((e) => ({ role: e.role, subject: e.subject, serialHex: e.serialHex, notAfter: e.notAfter.toISOString() }));
  const status = { bundleRoots: read.bundleRoots, rollover: read.rollover, certificates: entries, next: read.next.map((p) => ({ step: p.step, at: p.at.toISOString() })), crlBaseUrl: read.crlBaseUrl };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const lines = entries.map((e) => `${e.role.padEnd(44)} ${e.subject}  serial ${e.serialHex}  until ${e.notAfter}`);
  const rollover = read.rollover;
  lines.push(
    "",
    `bundle.pem holds ${status.bundleRoots} root(s).`,
    rollover === null
      ? "No root rollover in progress."
      : rollover.phase === "prepared"
        ? `Root rollover prepared at ${rollover.preparedAt.toISOString()}; the new root issues from ${rollover.activateAt.toISOString()}.`
        : `Root rollover activated at ${rollover.activatedAt.toISOString()}; the old root leaves the bundle at ${rollover.finishAt.toISOString()}.`,
    publicationLine(read.crlBaseUrl),
    "Next steps (default policy; a running edge with pki.ca.autoRotate takes them when due):",
    ...status.next.map((n) => `  ${n.at}  ${n.step}`),
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

function publicationLine(crlBaseUrl: string | null): string {
  return crlBaseUrl === null
    ? "CRL distribution points: none (moat ca publication --crl-base-url URL to set one)."
    : `CRL distribution points: ${crlBaseUrl}crl/<issuer serial>.der`;
}

export async function runCaPublication(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca publication", args, {
    "data-dir": { type: "string" },
    "crl-base-url": { type: "string" },
    clear: { type: "boolean", default: false },
  });
  if (values["crl-base-url"] !== undefined && values.clear) throw new CliUsageError("ca publication: give --crl-base-url URL or --clear, not both.");
  const dataDir = resolveDataDir(values["data-dir"]);
  await readCaBundle(dataDir); // no CA: say so first
  if (values["crl-base-url"] === undefined && !values.clear) {
    process.stdout.write(`${publicationLine((await readCaPublication(dataDir)).crlBaseUrl)}\n`);
    return 0;
  }
  const wanted = values.clear ? null : crlBaseUrlFlag("ca publication", values["crl-base-url"] ?? "");
  const { crlBaseUrl } = await writeCaPublication(dataDir, { crlBaseUrl: wanted });
  process.stdout.write(
    `${publicationLine(crlBaseUrl)}\n` +
      `Certificates issued from now on carry ${crlBaseUrl === null ? "no CRL Distribution Point" : "it"}; those already issued keep theirs until renewed ` +
      "(an edge renews its own on schedule; moat ca renew-intermediate puts it in the intermediate).\n",
  );
  return 0;
}
