// `moat doctor origin` and `moat doctor viewer`: find what the edge would use (config, store, data directory), run the doctor's checks, print them (or JSON), and exit non-zero when one fails.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadConfigFile, parseDuration, resolveDataDir, resolveStoreAddress, validateStoredDocument } from "../../config/index.ts";
import type { DistributionConfig, MoatConfig, OriginConfig, TrustStoreConfig } from "../../config/index.ts";
import { diagnoseOrigin, diagnoseViewer, formatDoctorReport } from "../../doctor/index.ts";
import type { DoctorCheck, DoctorReport, OriginDoctorTarget } from "../../doctor/index.ts";
import { createSnapshotMemo, originClientOptionsFor } from "../../edge/index.ts";
import { CliUsageError, MoatError } from "../../errors.ts";
import { createIssuedCertificateStore, openCertificateAuthority, readCaBundle } from "../../pki/index.ts";
import type { IssuedCertificateStore } from "../../pki/index.ts";
import { loadTrustStore } from "../../tls/index.ts";
import { parseCliArgs } from "../cli-args.ts";
import { loadCommandMasterKey } from "../master-key.ts";

const DEFAULT_TIMEOUT_MS = 5_000;

export async function runDoctorOrigin(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "doctor origin",
    args,
    {
      config: { type: "string", short: "c" },
      store: { type: "string" },
      "data-dir": { type: "string" },
      "master-key-file": { type: "string" },
      ca: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
    },
    true,
  );
  const [wanted, ...extra] = positionals;
  if (!wanted || extra.length > 0) throw new CliUsageError("doctor origin: give one ORIGIN_ID (or DISTRIBUTION/ORIGIN) or one https:// URL.", { fix: "run `moat doctor origin --help`" });
  const timeoutMs = timeoutOf(values.timeout);
  const config = await loadDoctorConfig("doctor origin", values.config, values.store);
  const dataDir = config?.dataDir ?? resolveDataDir(values["data-dir"]);
  const found = config ? findOrigin(config, wanted) : null;
  if (!found && !/^https:\/\//i.test(wanted)) {
    if (!config) throw new CliUsageError(`doctor origin: no origin "${wanted}".`, { fix: "give --config FILE or --store ADDRESS to look origins up by id, or give the origin's https:// URL" });
    const origins = originNames(allOrigins(config));
    throw new CliUsageError(`doctor origin: no origin "${wanted}" in the config.`, { fix: `name one of the config's origins (${origins}), or give its https:// URL` });
  }
  const target = found && config ? await configuredTarget(config, found, values) : await urlTarget(wanted, dataDir, values.ca);
  const report = await diagnoseOrigin(target, { timeoutMs });
  return printReport(report, values.json === true);
}

export async function runDoctorViewer(args: string[]): Promise<number> {
  const { values } = parseCliArgs("doctor viewer", args, {
    cert: { type: "string" },
    "trust-store": { type: "string" },
    ca: { type: "string" },
    crl: { type: "string", multiple: true },
    "allow-no-eku": { type: "boolean" },
    config: { type: "string", short: "c" },
    store: { type: "string" },
    distribution: { type: "string" },
    timeout: { type: "string" },
    json: { type: "boolean" },
  });
  if (!values.cert) throw new CliUsageError("doctor viewer: --cert FILE is required (the viewer's certificate, PEM).", { fix: "run `moat doctor viewer --help`" });
  const timeoutMs = timeoutOf(values.timeout);
  const certFile = resolve(values.cert);
  const certPem = await readFile(certFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new CliUsageError(`doctor viewer: cannot read ${certFile} (${error.code ?? error.message}).`, { fix: "give the path of the viewer's certificate in PEM" });
  });
  const storeConfig = await viewerTrustStore(values);
  const trustStore = await loadTrustStore(storeConfig.config, new Date());
  const report = await diagnoseViewer({ certFile, certPem, trustStore, caBundleFile: storeConfig.config.caBundleFile, crlFiles: storeConfig.config.crlFiles, subject: `viewer certificate ${certFile} against ${storeConfig.label}` }, { timeoutMs });
  return printReport(report, values.json === true);
}

function printReport(report: DoctorReport, isJson: boolean): number {
  process.stdout.write(isJson ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.ok ? 0 : 1;
}

function timeoutOf(flag: string | undefined): number {
  if (flag === undefined) return DEFAULT_TIMEOUT_MS;
  try {
    return parseDuration(flag);
  } catch (error) {
    throw new CliUsageError(`doctor: --timeout ${flag}: ${(error as Error).message}`, { fix: 'give a duration such as "5s" or "500ms"' });
  }
}

/** The config of --config FILE, or the newest of --store ADDRESS (or MOAT_STORE); null when neither is given. */
async function loadDoctorConfig(command: string, configFlag: string | undefined, storeFlag: string | undefined): Promise<MoatConfig | null> {
  if (configFlag !== undefined && storeFlag !== undefined) throw new CliUsageError(`${command}: give --config FILE or --store ADDRESS, not both.`, { fix: `run \`moat ${command} --help\`` });
  if (configFlag !== undefined) return loadConfigFile(resolve(configFlag));
  const address = resolveStoreAddress(storeFlag);
  if (address === undefined) return null;
  const [{ openStore, parseStoreAddress }, { createStoreConfigSource }] = await Promise.all([import("../../store/index.ts"), import("../run/store-config-source.ts")]);
  const store = await openStore({ address, validate: validateStoredDocument });
  const source = createStoreConfigSource({ store, dataDir: parseStoreAddress(address).dataDir });
  try {
    return await source.load();
  } finally {
    await source.close();
  }
}

interface FoundOrigin {
  distribution: DistributionConfig;
  distributionIndex: number;
  origin: OriginConfig;
  originIndex: number;
}

function allOrigins(config: MoatConfig): FoundOrigin[] {
  return config.distributions.flatMap((distribution, distributionIndex) => distribution.origins.map((origin, originIndex) => ({ distribution, distributionIndex, origin, originIndex })));
}

function originNames(origins: readonly FoundOrigin[]): string {
  return origins.map((o) => `${o.distribution.id}/${o.origin.id}`).join(", ") || "none";
}

/** By id, DISTRIBUTION/ORIGIN, or URL; an id two distributions use must be named with its distribution. */
function findOrigin(config: MoatConfig, wanted: string): FoundOrigin | null {
  const origins = allOrigins(config);
  if (/^https:\/\//i.test(wanted)) {
    const href = new URL(wanted).href;
    return origins.find((o) => new URL(o.origin.url).href === href || new URL(o.origin.url + o.origin.basePath).href === href) ?? null;
  }
  const [distributionId, originId] = wanted.includes("/") ? (wanted.split("/", 2) as [string, string]) : [undefined, wanted];
  const matches = origins.filter((o) => o.origin.id === originId && (distributionId === undefined || o.distribution.id === distributionId));
  if (matches.length > 1) {
    const names = originNames(matches);
    throw new CliUsageError(`doctor origin: origin "${wanted}" is in several distributions.`, { fix: `name it with its distribution (${names})` });
  }
  return matches[0] ?? null;
}

/** What the edge's client of a configured origin has: its CA, server name and the client certificate in the data directory. */
async function configuredTarget(config: MoatConfig, found: FoundOrigin, values: { "master-key-file"?: string }): Promise<OriginDoctorTarget> {
  const path = `distributions[${found.distributionIndex}].origins[${found.originIndex}]`;
  const kind = found.origin.mtls.clientCertificate.kind;
  // The CA (and so the master key) is opened only for a certificate the store holds; a read-only store issues nothing.
  const needsStore = kind === "issued" || kind === "stored";
  const masterKey = needsStore ? await loadCommandMasterKey({ dataDir: config.dataDir, flagFile: values["master-key-file"], config }) : null;
  const ca = masterKey ? await openCertificateAuthority({ dataDir: config.dataDir, masterKey }) : null;
  const caPem = ca ? ca.bundlePem : await readCaBundle(config.dataDir).catch(() => "");
  // Without a CA, the origin's certificate source needs no store (none, imported): nothing will ask it.
  const store = (ca && masterKey ? createIssuedCertificateStore({ ca, dataDir: config.dataDir, masterKey, isReadOnly: true }) : null) as IssuedCertificateStore;
  const subject = `origin ${found.origin.id} of distribution ${found.distribution.id} (${found.origin.url})`;
  const sources = { store, caPem, caBundleFile: `${config.dataDir}/ca/bundle.pem`, memo: createSnapshotMemo(), now: new Date() };
  try {
    return { subject, options: await originClientOptionsFor(config, found.distribution, found.origin, path, sources) };
  } catch (error) {
    if (!(error instanceof MoatError)) throw error;
    // The certificate cannot be had: say so, and look at the origin without one.
    const earlier: DoctorCheck = {
      id: "client-certificate",
      status: "fail",
      summary: "the edge has no usable client certificate for this origin",
      code: error.code === "stored-cert-missing" ? "origin-client-cert-unavailable" : error.code,
      cause: error.code === "stored-cert-missing" ? "none is stored in the data directory (the edge issues it when it starts), or the stored one has expired or was revoked" : error.message,
      fix: error.code === "stored-cert-missing" ? "start the edge (`moat start`), which issues and renews it; then run the doctor again" : (error.fix ?? "see the cause"),
    };
    const options = await originClientOptionsFor(config, found.distribution, { ...found.origin, mtls: { ...found.origin.mtls, clientCertificate: { kind: "none" } } }, path, sources);
    return { subject, options, earlier: [earlier] };
  }
}

/**
 * An origin by URL that no config names: the edge's defaults. It is verified against --ca or the data directory's
 * CA bundle under its URL's host name, and no client certificate is presented (an issued one names a distribution
 * and an origin, which a bare URL has not).
 */
async function urlTarget(url: string, dataDir: string, caFlag: string | undefined): Promise<OriginDoctorTarget> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliUsageError(`doctor origin: ${url} is not a URL.`, { fix: "give it as https://host:port" });
  }
  const caFile = caFlag ? resolve(caFlag) : `${dataDir}/ca/bundle.pem`;
  const caPem = await readFile(caFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new CliUsageError(`doctor origin: cannot read the CA bundle ${caFile} (${error.code ?? error.message}).`, {
      fix: "give --ca FILE (the CA that issued the origin's certificate), or --data-dir DIR of a Moat data directory, or --config FILE",
    });
  });
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = Number(parsed.port || 443);
  const basePath = parsed.pathname.replace(/\/+$/, "");
  return {
    subject: `${parsed.origin}${basePath} (no origin of a config: the edge's defaults, no client certificate presented)`,
    options: {
      distributionId: "(none)",
      originId: "(url)",
      url: `https://${parsed.host.includes(":") || parsed.port ? parsed.host : `${parsed.host}:${port}`}`,
      basePath,
      hostHeader: port === 443 ? parsed.hostname : `${parsed.hostname}:${port}`,
      serverName: hostname,
      caPem,
      trustedCaLabel: caFlag ? caFile : `Moat's CA bundle (${caFile})`,
      clientCertificate: null,
      connectTimeoutMs: DEFAULT_TIMEOUT_MS,
      responseTimeoutMs: DEFAULT_TIMEOUT_MS,
    },
  };
}

/** The trust store to judge by: --ca FILE (with --crl), --trust-store NAME, or the one --distribution ID's viewer mTLS names. */
async function viewerTrustStore(values: { "trust-store"?: string; ca?: string; crl?: string[]; "allow-no-eku"?: boolean; config?: string; store?: string; distribution?: string }): Promise<{ config: TrustStoreConfig; label: string }> {
  if (values.ca !== undefined) {
    if (values["trust-store"] !== undefined || values.distribution !== undefined) throw new CliUsageError("doctor viewer: give --ca FILE, or --trust-store NAME / --distribution ID with a config, not both.", { fix: "run `moat doctor viewer --help`" });
    const caBundleFile = resolve(values.ca);
    return { config: { name: "--ca", caBundleFile, crlFiles: (values.crl ?? []).map((file) => resolve(file)), allowNoEku: values["allow-no-eku"] === true }, label: `the CAs of ${caBundleFile}` };
  }
  const config = await loadDoctorConfig("doctor viewer", values.config, values.store);
  if (!config) throw new CliUsageError("doctor viewer: give --ca FILE, or --config FILE (or --store ADDRESS) with --trust-store NAME or --distribution ID.", { fix: "run `moat doctor viewer --help`" });
  let name = values["trust-store"];
  if (values.distribution !== undefined) {
    const distribution = config.distributions.find((d) => d.id === values.distribution);
    const ids = config.distributions.map((d) => d.id).join(", ");
    if (!distribution) throw new CliUsageError(`doctor viewer: no distribution "${values.distribution}" in the config.`, { fix: `name one of the config's distributions (${ids})` });
    if (!distribution.viewerMtls.trustStore) {
      throw new CliUsageError(`doctor viewer: distribution ${distribution.id} does not verify viewer certificates (viewerMtls mode ${distribution.viewerMtls.mode}).`, { fix: "set its viewerMtls mode to optional or required with a trustStore, or name a trust store with --trust-store" });
    }
    if (name !== undefined && name !== distribution.viewerMtls.trustStore) throw new CliUsageError(`doctor viewer: distribution ${distribution.id} uses trust store ${distribution.viewerMtls.trustStore}, not ${name}.`, { fix: "give one of --trust-store and --distribution" });
    name = distribution.viewerMtls.trustStore;
  }
  if (name === undefined) {
    const names = config.trustStores.map((t) => t.name).join(", ") || "none";
    if (config.trustStores.length !== 1) throw new CliUsageError("doctor viewer: name the trust store: --trust-store NAME or --distribution ID.", { fix: `name one of the config's trust stores (${names})` });
    name = config.trustStores[0]!.name;
  }
  const trustStore = config.trustStores.find((t) => t.name === name);
  const names = config.trustStores.map((t) => t.name).join(", ") || "none";
  if (!trustStore) throw new CliUsageError(`doctor viewer: no trust store "${name}" in the config.`, { fix: `name one of the config's trust stores (${names})` });
  return { config: trustStore, label: `trust store ${trustStore.name}${values.distribution ? ` (distribution ${values.distribution})` : ""}` };
}
