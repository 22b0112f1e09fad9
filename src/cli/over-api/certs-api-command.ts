// `moat certs list|show|import|rotate|revoke` over the admin API: the certificates Moat holds (public parts only), an import from another CA, a rotation waited for, a revocation.
import { readFile } from "node:fs/promises";
import { CliUsageError } from "../../errors.ts";
import type { Certificate, MoatClient } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import type { ApiFlagValues } from "./api-connection.ts";
import { oneName } from "./api-resource-input.ts";
import { parseWaitFlags, WAIT_FLAGS, waitUntilDone } from "./api-wait.ts";
import { parseCliArgs } from "../cli-args.ts";
import { printResult } from "../table-output.ts";

const JSON_FLAG = { json: { type: "boolean", default: false } } as const;
const LIST_FLAGS = { ...API_FLAGS, ...JSON_FLAG, distribution: { type: "string" }, state: { type: "string" }, use: { type: "string" }, source: { type: "string" }, edge: { type: "string" } } as const;
const USES = ["viewer-server", "origin-client"] as const;

type ListFilter = { distribution?: string; state?: Certificate["state"]; use?: Certificate["use"]; source?: Certificate["source"]; edge?: string };

/** Every certificate the filter selects, page after page, in serial order. */
export async function listCertificatesOverApi(moat: MoatClient, filter: ListFilter = {}): Promise<Certificate[]> {
  const items: Certificate[] = [];
  let cursor: string | undefined;
  do {
    const { data } = await moat.GET("/certificates", { params: { query: { limit: 500, ...filter, ...(cursor !== undefined ? { cursor } : {}) } } });
    items.push(...(data?.items ?? []));
    cursor = data?.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** The table `moat certs list` prints, locally and over the API: the same columns. */
export function certificatesTable(items: readonly Certificate[]) {
  return {
    header: ["USE", "NAME", "SOURCE", "STATE", "NOT AFTER", "RENEWS", "SERIAL", "NAMES"],
    rows: items.map((item) => [item.use, item.name, item.source, item.state, item.notAfter, item.renewsAt ?? "-", item.serialHex, item.sans.join(",") || item.subject]),
    empty: "No certificates.",
  };
}

/** `moat certs list` over the API (certs-command.ts decides which form runs). */
export async function runCertsListOverApi(values: ApiFlagValues & { json?: boolean | undefined } & Partial<Record<"distribution" | "state" | "use" | "source" | "edge", string>>): Promise<number> {
  const filter: ListFilter = {
    ...(values.distribution !== undefined ? { distribution: values.distribution } : {}),
    ...(values.state !== undefined ? { state: values.state as Certificate["state"] } : {}),
    ...(values.use !== undefined ? { use: values.use as Certificate["use"] } : {}),
    ...(values.source !== undefined ? { source: values.source as Certificate["source"] } : {}),
    ...(values.edge !== undefined ? { edge: values.edge } : {}),
  };
  const items = await withApi("certs list", values, (moat) => listCertificatesOverApi(moat, filter));
  printResult(values.json, items, certificatesTable(items));
  if (!values.json) {
    for (const item of items.filter((candidate) => candidate.expiryWarning)) {
      process.stdout.write(`warning: ${item.source} ${item.use} certificate ${item.name} (serial ${item.serialHex}) expires in ${item.expiryWarning?.daysLeft} day(s), on ${item.notAfter}${item.source === "imported" ? "; import a renewed one" : ""}\n`);
    }
  }
  return 0;
}

export const CERTS_LIST_API_FLAGS = LIST_FLAGS;

function usedByText(item: Certificate): string {
  if (item.usedBy.length === 0) return "-";
  return item.usedBy
    .map((use) => (use.as === "ca" ? "the CA" : use.as === "viewer-server" ? `distribution ${use.distribution ?? "?"} (viewer certificate)` : `distribution ${use.distribution ?? "?"}, origin ${use.origin ?? "?"} (client certificate)`))
    .join("; ");
}

/** One certificate as aligned `field  value` lines. */
export function certificateText(item: Certificate): string {
  const fields: [string, string][] = [
    ["serial", item.serialHex],
    ["use", item.use],
    ["name", item.name],
    ["source", item.source],
    ["state", item.state],
    ["subject", item.subject],
    ["names", item.sans.join(", ") || "-"],
    ["SPIFFE ID", item.spiffeId ?? "-"],
    ["issuer", item.issuer],
    ["not before", item.notBefore],
    ["not after", item.notAfter],
    ["renews", item.renewsAt ?? (item.source === "imported" ? "- (imported: renewed where it came from)" : `- (${item.state}: not renewed)`)],
    ["SHA-256", item.fingerprint256],
    ["used by", usedByText(item)],
    ["edge", item.edge ?? "- (the CA's, shared by its edges)"],
  ];
  if (item.revokedAt) fields.push(["revoked", `${item.revokedAt} (${item.revocationReason ?? "unspecified"})`]);
  if (item.expiryWarning) fields.push(["warning", `expires in ${item.expiryWarning.daysLeft} day(s)`]);
  const width = Math.max(...fields.map(([label]) => label.length));
  return `${fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n")}\n`;
}

export async function runCertsShow(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("certs show", args, { ...API_FLAGS, ...JSON_FLAG }, true);
  const serial = oneName("certs show", positionals, "SERIAL (hex, as `moat certs list` prints it)");
  const { data } = await withApi("certs show", values, (moat) => moat.GET("/certificates/{serial}", { params: { path: { serial } } }));
  const item = data as Certificate;
  printResult(values.json, item, certificateText(item));
  return 0;
}

/** A PEM file the import sends; its content is never printed (a key file least of all). */
async function readPemFile(command: string, flag: string, path: string | undefined, what: string): Promise<string> {
  if (path === undefined || path === "") throw new CliUsageError(`${command}: ${flag} FILE is required: ${what}.`, { fix: `run \`moat ${command} --help\`` });
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new CliUsageError(`${command}: cannot read ${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

export async function runCertsImport(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "certs import",
    args,
    { ...API_FLAGS, ...JSON_FLAG, use: { type: "string" }, chain: { type: "string" }, "private-key": { type: "string" }, "passphrase-file": { type: "string" }, distribution: { type: "string" } },
    true,
  );
  const command = "certs import";
  const name = oneName(command, positionals, "NAME (what the certificate is for: distributions name it with { imported: NAME })");
  const use = values.use as (typeof USES)[number] | undefined;
  if (use === undefined || !USES.includes(use)) throw new CliUsageError(`${command}: --use must be one of ${USES.join(", ")}${values.use ? ` (got ${values.use})` : ""}.`);
  const chainPem = await readPemFile(command, "--chain", values.chain, "the certificate, then its intermediates, PEM");
  const keyPem = await readPemFile(command, "--private-key", values["private-key"], "its private key, PEM (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with --passphrase-file)");
  const passphrase = values["passphrase-file"] === undefined ? undefined : (await readPemFile(command, "--passphrase-file", values["passphrase-file"], "the key's passphrase")).replace(/\r?\n$/, "");
  const body = { name, use, chainPem, keyPem, ...(passphrase !== undefined ? { passphrase } : {}), ...(values.distribution !== undefined ? { distribution: values.distribution } : {}) };
  const { data } = await withApi(command, values, (moat) => moat.POST("/certificates", { body }));
  const item = data as Certificate;
  const field = use === "viewer-server" ? "viewerCertificate" : "an origin's mtls.clientCertificate";
  printResult(
    values.json,
    item,
    `Imported ${use} certificate ${item.name}: serial ${item.serialHex}, valid until ${item.notAfter}, names ${item.sans.join(", ") || item.subject}.\n` +
      (item.usedBy.length > 0 ? `Used by ${usedByText(item)}: the edge serves it within a second.\n` : `A distribution serves it once ${field} is { imported: ${item.name} } (\`moat dist replace\`).\n`),
  );
  return 0;
}

/** The certificate now active in `old`'s place (same use and name), once it is another than `old`. */
async function successor(moat: MoatClient, old: Certificate): Promise<{ active?: Certificate; next?: Certificate }> {
  const same = (await listCertificatesOverApi(moat, { use: old.use })).filter((item) => item.name === old.name && item.serialHex !== old.serialHex);
  const active = same.find((item) => item.state === "active");
  const next = same.find((item) => item.state === "next");
  return { ...(active ? { active } : {}), ...(next ? { next } : {}) };
}

export async function runCertsRotate(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("certs rotate", args, { ...API_FLAGS, ...JSON_FLAG, ...WAIT_FLAGS }, true);
  const command = "certs rotate";
  const serial = oneName(command, positionals, "SERIAL (hex, as `moat certs list` prints it)");
  const wait = parseWaitFlags(command, values, "60s");
  return withApi(command, values, async (moat) => {
    const { data } = await moat.POST("/certificates/{serial}/rotate", { params: { path: { serial } } });
    const asked = data as { certificate: Certificate; requestedAt: string; wasAlreadyRequested: boolean };
    const old = asked.certificate;
    const place = `${old.use} certificate ${old.name}`;
    if (wait.ms === 0) {
      printResult(values.json, asked, `Asked the edge to rotate ${place} (serial ${old.serialHex})${asked.wasAlreadyRequested ? ", as asked already" : ""} at ${asked.requestedAt}; \`moat certs list --use ${old.use}\` shows the new one once active.\n`);
      return 0;
    }
    process.stderr.write(`moat: asked the edge to rotate ${place} (serial ${old.serialHex}) at ${asked.requestedAt}\n`);
    const rotated = await waitUntilDone({
      what: `the edge to rotate ${place}`,
      wait,
      check: `moat certs list --use ${old.use}`,
      poll: async () => {
        const found = await successor(moat, old);
        if (found.active) return { isDone: true, value: found.active };
        if (found.next) return { isDone: false, state: `new certificate ${found.next.serialHex} issued, waiting for the edge to make it active (an origin client certificate: once its origin accepts it)` };
        return { isDone: false, state: `waiting for the edge to issue the new ${place}` };
      },
    });
    printResult(values.json, rotated, `Rotated ${place}: serial ${rotated.serialHex} is active, valid until ${rotated.notAfter} (it replaces ${old.serialHex}).\n`);
    return 0;
  });
}

export async function runCertsRevoke(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs("certs revoke", args, { ...API_FLAGS, ...JSON_FLAG, reason: { type: "string" } }, true);
  const command = "certs revoke";
  const serial = oneName(command, positionals, "SERIAL (hex, as `moat certs list` prints it)");
  if (values.reason === undefined) throw new CliUsageError(`${command}: --reason is required (RFC 5280 §5.3.1): unspecified, keyCompromise, cACompromise, affiliationChanged, superseded or cessationOfOperation.`);
  const reason = values.reason;
  const { data } = await withApi(command, values, (moat) => moat.POST("/certificates/{serial}/revoke", { params: { path: { serial } }, body: { reason } }));
  const answer = data as { revocation: { serialHex: string; reason: string; revokedAt: string }; wasAlreadyRevoked: boolean; isKnown: boolean; crl: { crlNumber: number; nextUpdate: string; revokedSerials: string[] } };
  const { revocation, crl } = answer;
  if (!answer.isKnown) process.stderr.write(`moat: warning: Moat holds no certificate with serial ${revocation.serialHex}; it is revoked anyway. Check the serial: origins refuse only a certificate with exactly this one.\n`);
  const first = answer.wasAlreadyRevoked
    ? `Certificate ${revocation.serialHex} was already revoked at ${revocation.revokedAt} (reason ${revocation.reason}); nothing changed.`
    : `Revoked certificate ${revocation.serialHex} (reason ${revocation.reason}) at ${revocation.revokedAt}.`;
  const count = crl.revokedSerials.length;
  printResult(
    values.json,
    answer,
    `${first}\nCRL number ${crl.crlNumber} (${count} revoked certificate${count === 1 ? "" : "s"}), valid until ${crl.nextUpdate}: origins refuse it once they load it (\`moat ca crl > moat-crl.pem\`, then reload them). A running edge replaces it if in use.\n`,
  );
  return 0;
}
