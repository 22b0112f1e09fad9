// `moat ca status|bundle|crl|renew-intermediate|rollover` over the admin API: the CA's state, its public files, and the rotation steps with what each changed.
import { CliUsageError } from "../../errors.ts";
import { KEY_ALGORITHMS } from "../../pki/index.ts";
import type { KeyAlgorithm } from "../../pki/index.ts";
import type { CaStatus, CaStepResult } from "../../sdk/index.ts";
import { withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { formatTable, printResult } from "../table-output.ts";

type Flags = ApiFlagValues & { json?: boolean | undefined };

/** During a rollover: which edges of the fleet trust the new root, and which hold its activation back. */
function fleetLines(fleet: CaStatus["fleet"]): string[] {
  if (!fleet) return [];
  const names = (list: readonly string[]) => (list.length === 0 ? "none" : list.join(", "));
  return [
    `Edges trusting the new root (SHA-256 ${fleet.rootFingerprint256}): ${names(fleet.trusting)}.`,
    fleet.holdingBack.length === 0
      ? "No live edge holds the activation back."
      : `Holding the activation back (live, without the new root): ${fleet.holdingBack.map((edge) => `${edge.name} (${edge.health}${edge.roots === null ? ", reported no bundle" : `, trusts ${edge.roots.length} other root(s)`})`).join(", ")}.`,
    ...(fleet.notWaitedFor.length === 0 ? [] : [`Not waited for (not reporting): ${fleet.notWaitedFor.map((edge) => `${edge.name} (${edge.health})`).join(", ")}.`]),
  ];
}

/** The CA's status for people: its certificates as a table, then the rollover and the steps due. */
export function caStatusText(status: CaStatus): string {
  const table = formatTable(
    ["ROLE", "SUBJECT", "SERIAL", "NOT BEFORE", "NOT AFTER"],
    status.certificates.map((entry) => [entry.role, entry.subject, entry.serialHex, entry.notBefore, entry.notAfter]),
  );
  const rollover = status.rollover;
  const lines = [
    `bundle.pem holds ${status.bundleRoots} root(s).`,
    rollover === null
      ? "No root rollover in progress."
      : rollover.phase === "prepared"
        ? `Root rollover prepared at ${rollover.preparedAt} (root ${rollover.fromRootSerial} → ${rollover.toRootSerial}); the new root issues from ${rollover.activateAt}.`
        : `Root rollover activated at ${rollover.activatedAt} (root ${rollover.fromRootSerial} → ${rollover.toRootSerial}); the old root leaves the bundle at ${rollover.finishAt}.`,
    ...fleetLines(status.fleet),
    "Next steps (a running edge with pki.ca.autoRotate takes them when due):",
    ...status.next.map((next) => `  ${next.at}  ${next.step}`),
  ];
  return `${table}\n${lines.join("\n")}\n`;
}

export async function runCaStatusOverApi(values: Flags): Promise<number> {
  const { data } = await withApi("ca status", values, (moat) => moat.GET("/ca"));
  const status = data as CaStatus;
  printResult(values.json, status, caStatusText(status));
  return 0;
}

export async function runCaBundleOverApi(values: ApiFlagValues & { "with-intermediate"?: boolean | undefined }): Promise<number> {
  const { data } = await withApi("ca bundle", values, (moat) =>
    moat.GET("/ca/bundle", { params: { query: values["with-intermediate"] ? { intermediates: "true" } : {} }, parseAs: "text" }),
  );
  process.stdout.write(data as string);
  return 0;
}

export async function runCaCrlOverApi(values: ApiFlagValues & { der?: boolean | undefined }): Promise<number> {
  // The API publishes a fresh CRL when one is due, with its own master key: this side needs none.
  const { data } = await withApi("ca crl", values, (moat) => moat.GET("/ca/crl", { params: { query: { format: values.der ? "der" : "bundle" } }, parseAs: "arrayBuffer" }));
  process.stdout.write(Buffer.from(data as ArrayBuffer));
  return 0;
}

/** What a step changed, the CRL published after it, and what a running edge does about it. */
function describeStep(result: CaStepResult): string {
  const change = result.from !== undefined || result.to !== undefined ? ` (serial ${result.from ?? "-"} → ${result.to ?? "-"})` : "";
  const summary = result.summary.charAt(0).toUpperCase() + result.summary.slice(1);
  return (
    `${summary}${change}.\n` +
    `Published a fresh CRL: number ${result.crl.crlNumber}, valid until ${result.crl.nextUpdate}.\n` +
    (result.reissuesLeaves
      ? "A running edge picks the change up by itself and re-issues its certificates from the new intermediate (`moat certs list` shows them).\n"
      : "A running edge picks the new bundle up by itself; no certificate is re-issued.\n")
  );
}

export async function runCaRenewIntermediateOverApi(values: Flags & { validity?: string | undefined }): Promise<number> {
  const body = values.validity !== undefined ? { validity: values.validity } : {};
  const { data } = await withApi("ca renew-intermediate", values, (moat) => moat.POST("/ca/renew-intermediate", { body }));
  printResult(values.json, data, describeStep(data as CaStepResult));
  return 0;
}

export async function runCaRolloverOverApi(
  step: "prepare" | "activate" | "finish",
  values: Flags & { overlap?: string | undefined; validity?: string | undefined; "key-algorithm"?: string | undefined },
): Promise<number> {
  const keyAlgorithm = values["key-algorithm"] as KeyAlgorithm | undefined;
  if (keyAlgorithm !== undefined && !KEY_ALGORITHMS.includes(keyAlgorithm)) throw new CliUsageError(`ca rollover: --key-algorithm must be one of ${KEY_ALGORITHMS.join(", ")} (got ${keyAlgorithm}).`);
  if (step !== "prepare" && (values.overlap !== undefined || values.validity !== undefined || keyAlgorithm !== undefined)) {
    throw new CliUsageError(`ca rollover --${step} takes no --overlap, --validity or --key-algorithm: they shape the new root, which --prepare makes.`);
  }
  const result = await withApi("ca rollover", values, async (moat) => {
    if (step === "activate") return (await moat.POST("/ca/rollover/activate", { body: {} })).data;
    if (step === "finish") return (await moat.POST("/ca/rollover/finish", { body: {} })).data;
    const body = {
      ...(values.overlap !== undefined ? { overlap: values.overlap } : {}),
      ...(values.validity !== undefined ? { validity: values.validity } : {}),
      ...(keyAlgorithm !== undefined ? { keyAlgorithm } : {}),
    };
    return (await moat.POST("/ca/rollover/prepare", { body })).data;
  });
  const done = result as CaStepResult;
  const after = step === "prepare" ? "Origins and viewers should now trust the new bundle (`moat ca bundle` prints it): it holds both roots.\n" : "";
  printResult(values.json, done, describeStep(done) + after);
  return 0;
}
