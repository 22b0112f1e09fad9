// `moat ca init`, `moat ca issue-server`, `moat ca bundle`: the private CA from the command line.
import { mkdir } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseDuration, resolveDataDir } from "../config/index.ts";
import { CliUsageError } from "../errors.ts";
import { initCertificateAuthority, openCertificateAuthority, writeFileAtomic, writeKeyFileAtomic } from "../pki/index.ts";
import type { KeyAlgorithm } from "../pki/index.ts";
import { parseCliArgs } from "./cli-args.ts";

const keyAlgorithms: readonly KeyAlgorithm[] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"];

export async function runCaInit(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca init", args, {
    "data-dir": { type: "string" },
    "key-algorithm": { type: "string", default: "ecdsa-p256" },
    name: { type: "string" },
  });
  const keyAlgorithm = values["key-algorithm"] as KeyAlgorithm;
  if (!keyAlgorithms.includes(keyAlgorithm)) {
    throw new CliUsageError(`ca init: --key-algorithm must be one of ${keyAlgorithms.join(", ")} (got ${keyAlgorithm}).`);
  }
  const dataDir = resolveDataDir(values["data-dir"]);
  await initCertificateAuthority({ dataDir, keyAlgorithm, ...(values.name ? { name: values.name } : {}) });
  process.stdout.write(`Created Moat's CA (${keyAlgorithm}) in ${join(dataDir, "ca")}.\nOrigins and viewers should trust ${join(dataDir, "ca", "bundle.pem")}.\n`);
  return 0;
}

export async function runCaIssueServer(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca issue-server", args, {
    "data-dir": { type: "string" },
    dns: { type: "string", multiple: true, default: [] },
    ip: { type: "string", multiple: true, default: [] },
    out: { type: "string" },
    validity: { type: "string", default: "90d" },
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
  const ca = await openCertificateAuthority({ dataDir: resolveDataDir(values["data-dir"]) });
  const issued = await ca.issueServerCertificate({ dnsNames, ipAddresses, validityMs });
  const out = resolve(values.out);
  const base = join(out, (dnsNames[0] ?? ipAddresses[0] ?? "server").replace(/[^a-zA-Z0-9.-]/g, "_"));
  await mkdir(out, { recursive: true, mode: 0o700 });
  // Key first and atomically: an older key file with looser permissions is replaced, never rewritten in place.
  await writeKeyFileAtomic(`${base}.key`, issued.keyPem);
  await writeFileAtomic(`${base}.pem`, issued.chainPem, 0o644);
  await writeFileAtomic(join(out, "ca-bundle.pem"), ca.bundlePem, 0o644);
  process.stdout.write(
    `Issued a server certificate for ${[...dnsNames, ...ipAddresses].join(", ")}\n` +
      `  serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n` +
      `  certificate: ${base}.pem\n  key:         ${base}.key (mode 0600)\n  CA bundle:   ${join(out, "ca-bundle.pem")}\n`,
  );
  return 0;
}

export async function runCaBundle(args: string[]): Promise<number> {
  const { values } = parseCliArgs("ca bundle", args, { "data-dir": { type: "string" } });
  const ca = await openCertificateAuthority({ dataDir: resolveDataDir(values["data-dir"]) });
  process.stdout.write(ca.bundlePem);
  return 0;
}
