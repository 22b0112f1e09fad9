// `moat ca init`, `moat ca issue-server`, `moat ca bundle`: the private CA from the command line.
import { mkdir } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseDuration, resolveDataDir, resolveMasterKeySource } from "../../config/index.ts";
import { CliUsageError, CrlBaseUrlInvalidError } from "../../errors.ts";
import {
  initCertificateAuthority,
  loadMasterKey,
  openCertificateAuthority,
  openOrCreateMasterKeyFile,
  parseCrlBaseUrl,
  readCaBundle,
  readCaGenerations,
  readCaCertificates,
  writeFileAtomic,
  writeKeyFileAtomic,
} from "../../pki/index.ts";
import type { KeyAlgorithm, MasterKey } from "../../pki/index.ts";
import { API_FLAGS } from "../over-api/api-connection.ts";
import { isCaOverApi } from "./ca-rotate-command.ts";
import { parseCliArgs } from "../cli-args.ts";
import { loadCommandMasterKey } from "../master-key.ts";

const keyAlgorithms: readonly KeyAlgorithm[] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"];

/**
 * `--master-key-file PATH` is created (0600) if absent; otherwise MOAT_MASTER_KEY or
 * MOAT_MASTER_KEY_FILE must name an existing key. A key file this command created is
 * deleted again if the CA cannot be created, so a failed init leaves nothing behind.
 */
async function initMasterKey(dataDir: string, flagFile: string | undefined): Promise<{ masterKey: MasterKey; created: boolean; undo: () => Promise<void> }> {
  if (flagFile === undefined) {
    const masterKey = await loadMasterKey(resolveMasterKeySource(), { dataDir });
    return { masterKey, created: false, undo: async () => undefined };
  }
  return openOrCreateMasterKeyFile(flagFile, { dataDir, from: "--master-key-file" });
}

/** --crl-base-url checked: a bad URL is a usage error (exit 2) that says what is wrong with it. */
export function crlBaseUrlFlag(command: string, text: string): string {
  try {
    return parseCrlBaseUrl(text);
  } catch (error) {
    if (error instanceof CrlBaseUrlInvalidError) throw new CliUsageError(`${command}: --crl-base-url: ${error.message}`, { cause: error });
    throw error;
  }
}

export async function runCaInit(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca init", args, {
    "data-dir": { type: "string" },
    "key-algorithm": { type: "string", default: "ecdsa-p256" },
    "master-key-file": { type: "string" },
    name: { type: "string" },
    "crl-base-url": { type: "string" },
  });
  // Checked before a master key is made or anything written: a typo costs nothing.
  const crlBaseUrl = values["crl-base-url"] === undefined ? null : crlBaseUrlFlag("ca init", values["crl-base-url"]);
  const keyAlgorithm = values["key-algorithm"] as KeyAlgorithm;
  if (!keyAlgorithms.includes(keyAlgorithm)) {
    throw new CliUsageError(`ca init: --key-algorithm must be one of ${keyAlgorithms.join(", ")} (got ${keyAlgorithm}).`);
  }
  const dataDir = resolveDataDir(values["data-dir"]);
  const { masterKey, created, undo } = await initMasterKey(dataDir, values["master-key-file"]);
  try {
    await initCertificateAuthority({ dataDir, keyAlgorithm, masterKey, crlBaseUrl, ...(values.name ? { name: values.name } : {}) });
  } catch (error) {
    await undo();
    throw error;
  }
  const keyFile = values["master-key-file"] ? resolve(values["master-key-file"]) : undefined;
  process.stdout.write(
    `Created Moat's CA (${keyAlgorithm}) in ${join(dataDir, "ca")}, its private keys encrypted under the master key from ${masterKey.source} (key id ${masterKey.id}).\n` +
      `Origins and viewers should trust ${join(dataDir, "ca", "bundle.pem")}.\n` +
      (crlBaseUrl ? `Certificates point at their issuer's CRL under ${crlBaseUrl}crl/ (an edge's plain-HTTP port serves it at /.well-known/moat/crl/).\n` : "") +
      (created && keyFile
        ? `Created the master key ${keyFile} (mode 0600). Back it up apart from the data directory: without it the CA's keys cannot be opened.\n` +
          `Point Moat at it with pki.masterKeyFile: ${keyFile} in the config, or MOAT_MASTER_KEY_FILE=${keyFile}.\n`
        : ""),
  );
  return 0;
}

export async function runCaIssueServer(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca issue-server", args, {
    "data-dir": { type: "string" },
    dns: { type: "string", multiple: true, default: [] },
    ip: { type: "string", multiple: true, default: [] },
    out: { type: "string" },
    validity: { type: "string", default: "90d" },
    "master-key-file": { type: "string" },
  });
  const dnsNames = values.dns ?? [];
  const ipAddresses = values.ip ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) throw new CliUsageError("ca issue-server: give at least one --dns NAME or --ip ADDRESS.");
  const badIp = ipAddresses.find((ip) => isIP(ip) === 0);
  if (badIp) throw new CliUsageError(`ca issue-server: --ip ${badIp} is not an IP address.`);
  if (!values.out) throw new CliUsageError("ca issue-server: --out DIR is required (where the certificate and key are written).");
  let validityMs: number;
  try {
    validityMs = parseDuration(values.validity ?? "90d");
  } catch (error) {
    throw new CliUsageError(`ca issue-server: --validity: ${(error as Error).message}`);
  }
  const dataDir = resolveDataDir(values["data-dir"]);
  // No CA is the first thing to say, before any word about master keys.
  await readCaBundle(dataDir);
  const masterKey = await loadCommandMasterKey({ dataDir, flagFile: values["master-key-file"] });
  const ca = await openCertificateAuthority({
    dataDir,
    masterKey,
    onKeyFileEncrypted: (path) => process.stderr.write(`moat: encrypted ${path}, which was stored in plaintext.\n`),
  });
  const issued = await ca.issueServerCertificate({ dnsNames, ipAddresses, validityMs });
  const out = resolve(values.out);
  const base = join(out, (dnsNames[0] ?? ipAddresses[0] ?? "server").replace(/[^a-zA-Z0-9.-]/g, "_"));
  await mkdir(out, { recursive: true, mode: 0o700 });
  // Key first and atomically: an older key file with looser permissions is replaced, never rewritten in place.
  // Not encrypted: it goes to the origin host, whose TLS server reads it as is; Moat's master key stays here.
  await writeKeyFileAtomic(`${base}.key`, issued.keyPem);
  await writeFileAtomic(`${base}.pem`, issued.chainPem, 0o644);
  await writeFileAtomic(join(out, "ca-bundle.pem"), ca.bundlePem, 0o644);
  process.stdout.write(
    `Issued a server certificate for ${[...dnsNames, ...ipAddresses].join(", ")}\n` +
      `  serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n` +
      `  certificate: ${base}.pem\n  key:         ${base}.key (mode 0600, not encrypted: the origin's TLS server reads it as is; move it to the origin host and delete it here)\n  CA bundle:   ${join(out, "ca-bundle.pem")}\n`,
  );
  return 0;
}

export async function runCaBundle(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca bundle", args, { "data-dir": { type: "string" }, "with-intermediate": { type: "boolean", default: false }, ...API_FLAGS });
  if (await isCaOverApi("ca bundle", values)) return (await import("../over-api/ca-api-command.ts")).runCaBundleOverApi(values);
  // The bundle is public: printing it needs no master key.
  const dataDir = resolveDataDir(values["data-dir"]);
  process.stdout.write(await readCaBundle(dataDir));
  // For origins whose server cannot see the intermediate the edge sends (Node: nodejs/node#65579); never a trust anchor.
  // Every intermediate an edge may present: the current one, earlier ones still valid (after a renewal),
  // and a prepared rollover's, so guards accept the edge on the day the new root is activated.
  if (values["with-intermediate"]) {
    const certificates = await readCaCertificates(dataDir);
    const { pending } = await readCaGenerations(dataDir);
    process.stdout.write([certificates.intermediatePem, ...certificates.previousIntermediatePems, ...(pending ? [pending.intermediatePem] : [])].join(""));
  }
  return 0;
}
