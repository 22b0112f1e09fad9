// `moat ca crl`: prints Moat's current CRL (the bundle origins load, or the intermediate's CRL as DER), publishing a fresh one when it is due.
import { parseDuration, resolveDataDir } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { openCertificateAuthority, publishCrl, readCaBundle, readCaCertificates, readFreshCrl } from "../../pki/index.ts";
import type { CertificateAuthority, MasterKey, PublishedCrl } from "../../pki/index.ts";
import { API_FLAGS } from "../over-api/api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { loadCommandMasterKey } from "../master-key.ts";

const MIN_CRL_VALIDITY_MS = 60 * 60 * 1000;

/** `--validity` of a CRL: at least an hour, since origins must fetch it again before it runs out. */
export function parseCrlValidity(command: string, text: string | undefined): number {
  let validityMs: number;
  try {
    validityMs = parseDuration(text ?? "24h");
  } catch (error) {
    throw new CliUsageError(`${command}: --validity: ${(error as Error).message}`);
  }
  if (validityMs < MIN_CRL_VALIDITY_MS) {
    throw new CliUsageError(`${command}: --validity ${text} is too short: origins must fetch each CRL before it runs out; give at least 1h (default 24h).`);
  }
  return validityMs;
}

/** The CA with its signing key, for the commands that sign a CRL: "no CA" is said before any word about master keys. */
export async function openCaForCrl(dataDir: string, masterKeyFile: string | undefined): Promise<{ ca: CertificateAuthority; masterKey: MasterKey }> {
  await readCaBundle(dataDir);
  const masterKey = await loadCommandMasterKey({ dataDir, flagFile: masterKeyFile });
  const ca = await openCertificateAuthority({
    dataDir,
    masterKey,
    onKeyFileEncrypted: (path) => process.stderr.write(`moat: encrypted ${path}, which was stored in plaintext.\n`),
  });
  return { ca, masterKey };
}

export function describePublished(crl: PublishedCrl): string {
  const count = crl.revokedSerials.length;
  return `CRL number ${crl.crlNumber} (${count} revoked certificate${count === 1 ? "" : "s"}), valid until ${crl.nextUpdate.toISOString()}`;
}

export async function runCaCrl(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca crl", args, {
    "data-dir": { type: "string" },
    der: { type: "boolean", default: false },
    validity: { type: "string" },
    "master-key-file": { type: "string" },
    ...API_FLAGS,
  });
  if (values.der && process.stdout.isTTY) {
    throw new CliUsageError("ca crl --der writes binary DER; redirect it to a file.", { fix: "run `moat ca crl --der > moat-crl.der`" });
  }
  const { isCaOverApi } = await import("./ca-rotate-command.ts");
  if (await isCaOverApi("ca crl", values)) {
    if (values.validity !== undefined) throw new CliUsageError("ca crl: --validity is for a CRL published here; the admin API publishes a fresh one when due, under its own policy.");
    return (await import("../over-api/ca-api-command.ts")).runCaCrlOverApi(values);
  }
  const validityMs = parseCrlValidity("ca crl", values.validity);
  const dataDir = resolveDataDir(values["data-dir"]);
  await readCaBundle(dataDir);
  // A fresh CRL is printed as it is, with no master key: fetching it needs no access to the CA's keys.
  let crl = await readFreshCrl({ ca: await readCaCertificates(dataDir), dataDir });
  if (!crl) {
    const { ca, masterKey } = await openCaForCrl(dataDir, values["master-key-file"]);
    crl = await publishCrl({ ca, dataDir, masterKey, validityMs });
    process.stderr.write(`moat: published ${describePublished(crl)}.\n`);
  }
  process.stdout.write(values.der ? crl.der : crl.bundlePem);
  return 0;
}
