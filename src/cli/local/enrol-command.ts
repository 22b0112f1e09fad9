// `moat enrol token|serve|request|renew`: bootstrap tokens and the enrolment endpoint on the CA host; enrolment and renewal on an origin host.
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { CONNECTION_DEFAULTS, parseDuration, resolveDataDir } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { createEnrolmentService, createEnrolmentToken, enrolHost, keepEnrolmentCurrent, renewHost, runDueWork, startEnrolmentServer } from "../../enrol/index.ts";
import { createLogger } from "../../observe/index.ts";
import type { LoggerOptions } from "../../observe/index.ts";
import { createIssuedCertificateStore, openCertificateAuthority, readCaBundle, renewalTime } from "../../pki/index.ts";
import { parseCliArgs } from "../cli-args.ts";
import { CONNECTION_FLAGS, connectionLimits } from "../connection-flags.ts";
import { parseListen } from "./guard-command.ts";
import { loadCommandMasterKey, logKeyFileEncrypted } from "../master-key.ts";
import { parseTlsFlags, TLS_FLAGS } from "../tls-flags.ts";

function duration(command: string, flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new CliUsageError(`${command}: --${flag}: ${(error as Error).message}`);
  }
}

function names(command: string, dns: string[] | undefined, ip: string[] | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = dns ?? [];
  const ipAddresses = ip ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) throw new CliUsageError(`${command}: give at least one --dns NAME or --ip ADDRESS.`);
  const badIp = ipAddresses.find((address) => isIP(address) === 0);
  if (badIp) throw new CliUsageError(`${command}: --ip ${badIp} is not an IP address.`);
  return { dnsNames, ipAddresses };
}

export async function runEnrolToken(args: string[]): Promise<number> {
  const { values } = parseCliArgs("enrol token", args, {
    "data-dir": { type: "string" },
    dns: { type: "string", multiple: true, default: [] },
    ip: { type: "string", multiple: true, default: [] },
    ttl: { type: "string", default: "1h" },
    validity: { type: "string", default: "7d" },
  });
  const granted = names("enrol token", values.dns, values.ip);
  const ttlMs = duration("enrol token", "ttl", values.ttl ?? "1h");
  const validityMs = duration("enrol token", "validity", values.validity ?? "7d");
  const dataDir = resolveDataDir(values["data-dir"]);
  await readCaBundle(dataDir); // no CA, no token: say so first
  const { token, expiresAt } = await createEnrolmentToken({ dataDir, ...granted, ttlMs, validityMs, now: new Date() });
  process.stderr.write(
    `moat: a one-time token for ${[...granted.dnsNames, ...granted.ipAddresses].join(", ")}, valid until ${expiresAt.toISOString()}; ` +
      `it is shown once and stored hashed. Give it, with \`moat ca bundle\`, to the host's operator:\n` +
      `  moat enrol request --url https://<this host>:9444 --token <token> --ca-bundle moat-ca.pem --dir /etc/moat-guard\n`,
  );
  process.stdout.write(`${token}\n`);
  return 0;
}

export async function runEnrolServe(args: string[]): Promise<number> {
  const { values } = parseCliArgs("enrol serve", args, {
    "data-dir": { type: "string" },
    "master-key-file": { type: "string" },
    listen: { type: "string", default: "0.0.0.0:9444" },
    dns: { type: "string", multiple: true, default: [] },
    ip: { type: "string", multiple: true, default: [] },
    "log-level": { type: "string", default: "info" },
    ...CONNECTION_FLAGS,
    ...TLS_FLAGS,
  });
  const connections = connectionLimits("enrol serve", values, CONNECTION_DEFAULTS.enrolConnections);
  const own = names("enrol serve", values.dns, values.ip);
  const tls = parseTlsFlags("enrol serve", values);
  const listen = parseListen("enrol serve", values.listen ?? "0.0.0.0:9444");
  const dataDir = resolveDataDir(values["data-dir"]);
  await readCaBundle(dataDir);
  const log = createLogger({ level: values["log-level"] as LoggerOptions["level"] });
  const masterKey = await loadCommandMasterKey({ dataDir, flagFile: values["master-key-file"] });
  const ca = await openCertificateAuthority({ dataDir, masterKey, onKeyFileEncrypted: logKeyFileEncrypted(log) });
  const store = createIssuedCertificateStore({ ca, dataDir, masterKey });
  const ownCertificate = () => store.serverCertificate({ name: "enrol-endpoint", ...own, validityMs: 30 * 86_400_000 });
  let certificate = await ownCertificate();
  const server = await startEnrolmentServer({ service: createEnrolmentService({ ca, dataDir, masterKey }), certificate, listen, log, connections, tls });
  // The endpoint's own certificate renews itself like every certificate Moat issues.
  let timer: NodeJS.Timeout | undefined;
  const scheduleRenewal = () => {
    const delayMs = Math.max(60_000, renewalTime(certificate, 2 / 3).getTime() - Date.now());
    timer = setTimeout(() => {
      ownCertificate().then(
        (renewed) => {
          certificate = renewed;
          server.setCertificate(renewed);
          log.info({ serial: renewed.serialHex, notAfter: renewed.notAfter }, "renewed the enrolment endpoint's certificate");
          scheduleRenewal();
        },
        (error: unknown) => {
          log.error({ detail: (error as Error).message }, "renewing the enrolment endpoint's certificate failed; retrying");
          scheduleRenewal();
        },
      );
    }, Math.min(delayMs, 2 ** 31 - 1));
  };
  scheduleRenewal();
  const signal = await new Promise<string>((done) => {
    process.once("SIGTERM", () => done("SIGTERM"));
    process.once("SIGINT", () => done("SIGINT"));
  });
  clearTimeout(timer);
  log.info({ signal }, "stopping the enrolment endpoint");
  await server.stop();
  return 0;
}

export async function runEnrolRequest(args: string[]): Promise<number> {
  const { values } = parseCliArgs("enrol request", args, {
    url: { type: "string" },
    token: { type: "string" },
    "ca-bundle": { type: "string" },
    dir: { type: "string" },
  });
  if (!values.url || !values.token || !values["ca-bundle"] || !values.dir) {
    throw new CliUsageError("enrol request: --url, --token, --ca-bundle and --dir are required.", { fix: "run `moat enrol request --help`" });
  }
  if (!values.url.startsWith("https://")) throw new CliUsageError(`enrol request: --url ${values.url} must be https://: the token and the certificate travel over it.`);
  const caBundlePem = await readFile(resolve(values["ca-bundle"]), "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new CliUsageError(`enrol request: cannot read --ca-bundle ${values["ca-bundle"]} (${error.code}).`, { fix: "copy Moat's bundle from the CA host (`moat ca bundle`)" });
  });
  const dir = resolve(values.dir);
  const state = await enrolHost({ url: values.url, token: values.token, caBundlePem, dir });
  process.stdout.write(
    `Enrolled: ${dir} holds this host's certificate (until ${state.notAfter}), its key (0600, made here, never sent), Moat's CA bundle and CRLs.\n` +
      `Keep them current: \`moat enrol renew --dir ${dir} --watch\` (renews at ${state.renewAt}, refreshes the CRL at ${state.trustRefreshAt}).\n`,
  );
  return 0;
}

export async function runEnrolRenew(args: string[]): Promise<number> {
  const { values } = parseCliArgs("enrol renew", args, {
    dir: { type: "string" },
    watch: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    "log-level": { type: "string", default: "info" },
  });
  if (!values.dir) throw new CliUsageError("enrol renew: --dir DIR is required (the directory `moat enrol request` filled).");
  const dir = resolve(values.dir);
  const log = createLogger({ level: values["log-level"] as LoggerOptions["level"] });
  if (values.force) await renewHost({ dir });
  if (!values.watch) {
    const state = await runDueWork(dir, new Date(), log);
    process.stdout.write(`Certificate valid until ${state.notAfter}; next renewal ${state.renewAt}; next CRL refresh ${state.trustRefreshAt}.\n`);
    return 0;
  }
  const keeper = keepEnrolmentCurrent({ dir, log });
  await new Promise<void>((done) => {
    process.once("SIGTERM", () => done());
    process.once("SIGINT", () => done());
  });
  keeper.stop();
  return 0;
}
