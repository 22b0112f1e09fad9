// `moat ca revoke SERIAL --reason REASON`: records the revocation (final, idempotent) and publishes a fresh CRL for origins.
import { join } from "node:path";
import { resolveDataDir } from "../../config/index.ts";
import { CliUsageError, RevocationInvalidError } from "../../errors.ts";
import {
  CRL_FILES,
  crlRefreshAt,
  parseRevocationReason,
  parseSerialHex,
  REVOCATION_REASONS,
  revocationRegistryPath,
  revokeAndPublishCrl,
} from "../../pki/index.ts";
import type { PublishedCrl, RevokeResult } from "../../pki/index.ts";
import { crlPublishedEvent, revocationEvent } from "../../control/audit-events.ts";
import { cliActor, withCommandAudit } from "./audit-recording.ts";
import { parseCliArgs } from "../cli-args.ts";
import { describePublished, openCaForCrl, parseCrlValidity } from "./crl-command.ts";

/** A bad serial or reason is the user's mistake: exit code 2, like any other bad argument. */
async function asUsageError<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RevocationInvalidError) throw new CliUsageError(`ca revoke: ${error.message}`);
    throw error;
  }
}

function describeRevocation(result: RevokeResult, reasonGiven: string): string {
  const { serialHex, reason, revokedAt } = result.revocation;
  if (!result.wasAlreadyRevoked) return `Revoked certificate ${serialHex} (reason ${reason}) at ${revokedAt.toISOString()}.\n`;
  const note = reasonGiven === reason ? "" : ` The reason given now (${reasonGiven}) is not recorded: a revocation is final, its reason too.`;
  return `Certificate ${serialHex} was already revoked at ${revokedAt.toISOString()} (reason ${reason}); nothing changed.${note}\n`;
}

function describeCrlFiles(dataDir: string, crl: PublishedCrl, isNew: boolean): string {
  const caDir = join(dataDir, "ca");
  return (
    `${isNew ? "Published" : "The current"} ${describePublished(crl)}:\n` +
    `  ${join(caDir, CRL_FILES.bundle)}  what origins load (nginx ssl_crl, HAProxy crl-file; Node's tls \`crl\` takes one CRL per array entry)\n` +
    `  ${join(caDir, CRL_FILES.pem)}, ${CRL_FILES.der}  the intermediate's CRL alone\n` +
    `Origins refuse the certificate once they load this CRL: copy it to them (\`moat ca crl > moat-crl.pem\`) and reload them,\n` +
    `and again before ${crlRefreshAt(crl).toISOString()}: an origin with an expired CRL refuses every edge.\n` +
    `Running edges replace an in-use revoked certificate when they see the registry (${revocationRegistryPath(dataDir)}) change.\n`
  );
}

export async function runCaRevoke(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "ca revoke",
    args,
    {
      "data-dir": { type: "string" },
      reason: { type: "string" },
      validity: { type: "string", default: "24h" },
      "master-key-file": { type: "string" },
      store: { type: "string" },
    },
    true,
  );
  const [serialText, ...extra] = positionals;
  if (serialText === undefined || extra.length > 0) {
    throw new CliUsageError("ca revoke: give exactly one SERIAL, in hex as `moat` or `openssl x509 -noout -serial` prints it.", { fix: "run `moat ca revoke --help`" });
  }
  const serialHex = await asUsageError(() => parseSerialHex(serialText));
  if (values.reason === undefined) {
    throw new CliUsageError(`ca revoke: --reason is required: one of ${REVOCATION_REASONS.join(", ")} (RFC 5280 §5.3.1).`);
  }
  const reasonText = values.reason;
  const reason = await asUsageError(() => parseRevocationReason(reasonText));
  const validityMs = parseCrlValidity("ca revoke", values.validity);
  const dataDir = resolveDataDir(values["data-dir"]);
  return withCommandAudit("ca revoke", values.store, async (audit) => {
    const { ca, masterKey } = await openCaForCrl(dataDir, values["master-key-file"]);

    const result = await asUsageError(() => revokeAndPublishCrl({ dataDir, serialHex, reason, ca, masterKey, crlValidityMs: validityMs }));
    process.stdout.write(describeRevocation(result, reason));
    for (const path of result.storedAt) process.stdout.write(`  Moat's copy of it: ${path}\n`);
    if (result.storedAt.length === 0 && !result.wasAlreadyRevoked) {
      process.stderr.write(
        `moat: warning: no certificate with serial ${serialHex} under ${join(dataDir, "certs")}; it is revoked anyway (Moat may have issued it and deleted it since). Check the serial: origins refuse only a certificate with exactly this one.\n`,
      );
    }
    process.stdout.write(describeCrlFiles(dataDir, result.crl, result.isNewCrl));
    const actor = cliActor();
    if (!audit) return 0;
    const recorded = await audit.record([revocationEvent(actor, result), result.isNewCrl ? crlPublishedEvent(actor, result.crl) : undefined]);
    const { serialHex: revokedSerial, revokedAt, reason: revokedFor } = result.revocation;
    return (await audit.certificatesChanged({ dataDir, revoked: { serialHex: revokedSerial, revokedAt, reason: revokedFor } })) || recorded;
  });
}
