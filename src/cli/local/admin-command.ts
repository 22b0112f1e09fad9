// `moat admin issue`: an admin API client certificate from the local CA, its role in its SPIFFE ID.
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseDuration, resolveDataDir } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { openCertificateAuthority, readCaBundle, writeFileAtomic, writeKeyFileAtomic } from "../../pki/index.ts";
import { API_ROLES } from "../../store/index.ts";
import { certificateEvent } from "../../control/audit-events.ts";
import { cliActor, withCommandAudit } from "./audit-recording.ts";
import { parseCliArgs } from "../cli-args.ts";
import { loadCommandMasterKey } from "../master-key.ts";

export async function runAdminIssue(args: string[]): Promise<number> {
  const { values } = parseCliArgs("admin issue", args, {
    role: { type: "string" },
    name: { type: "string" },
    out: { type: "string" },
    validity: { type: "string", default: "30d" },
    "trust-domain": { type: "string", default: "moat.internal" },
    "data-dir": { type: "string" },
    "master-key-file": { type: "string" },
    store: { type: "string" },
  });
  const role = values.role;
  if (!role || !(API_ROLES as readonly string[]).includes(role)) throw new CliUsageError(`admin issue: --role must be one of ${API_ROLES.join(", ")}${role ? ` (got ${role})` : ""}.`);
  if (!values.name) throw new CliUsageError("admin issue: --name NAME is required (who holds the certificate: logs name requests by it).");
  if (!values.out) throw new CliUsageError("admin issue: --out DIR is required (where the certificate and key are written).");
  let validityMs: number;
  try {
    validityMs = parseDuration(values.validity ?? "30d");
  } catch (error) {
    throw new CliUsageError(`admin issue: --validity: ${(error as Error).message}`);
  }
  const dataDir = resolveDataDir(values["data-dir"]);
  const name = values.name;
  const outDir = values.out;
  return withCommandAudit("admin issue", values.store, async (audit) => {
    await readCaBundle(dataDir);
    const masterKey = await loadCommandMasterKey({ dataDir, flagFile: values["master-key-file"] });
    const ca = await openCertificateAuthority({ dataDir, masterKey, onKeyFileEncrypted: (path) => process.stderr.write(`moat: encrypted ${path}, which was stored in plaintext.\n`) });
    const trustDomain = values["trust-domain"] ?? "moat.internal";
    const issued = await ca.issueAdminClientCertificate({ trustDomain, role, name, validityMs });
    const out = resolve(outDir);
    const base = join(out, `admin-${name}`);
    await mkdir(out, { recursive: true, mode: 0o700 });
    // The key is the credential: 0600, written atomically, and not encrypted (curl and the SDK read it as is).
    await writeKeyFileAtomic(`${base}.key`, issued.keyPem);
    await writeFileAtomic(`${base}.pem`, issued.chainPem, 0o644);
    await writeFileAtomic(join(out, "ca-bundle.pem"), ca.bundlePem, 0o644);
    process.stdout.write(
      `Issued an admin API certificate: role ${role}, name ${values.name} (spiffe://${trustDomain}/admin/${role}/${values.name})\n` +
        `  serial ${issued.serialHex}, valid until ${issued.notAfter.toISOString()}\n` +
        `  certificate: ${base}.pem\n  key:         ${base}.key (mode 0600: whoever reads it acts as ${role})\n  CA bundle:   ${join(out, "ca-bundle.pem")}\n` +
        `Example:\n  curl --cacert ${join(out, "ca-bundle.pem")} --cert ${base}.pem --key ${base}.key https://localhost:8444/distributions\n`,
    );
    return audit ? audit.record([certificateEvent(cliActor(), "certificate.issue", issued, { use: `admin-${role}` })]) : 0;
  });
}
