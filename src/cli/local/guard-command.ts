// `moat guard`: runs the origin-side sidecar in front of an HTTP app until SIGTERM; SIGHUP re-reads its files (they are also watched).
import { join, resolve } from "node:path";
import { isIP } from "node:net";
import { CONNECTION_DEFAULTS } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import { DEFAULT_TRUST_DOMAIN, GUARD_DIR_FILES, parseEdgeSpiffeId, startGuard } from "../../guard/index.ts";
import type { GuardFilePaths } from "../../guard/index.ts";
import { createLogger } from "../../observe/index.ts";
import type { LoggerOptions } from "../../observe/index.ts";
import { parseCliArgs } from "../cli-args.ts";
import { CONNECTION_FLAGS, connectionLimits } from "../connection-flags.ts";
import { parseTlsFlags, TLS_FLAGS } from "../tls-flags.ts";

const DRAIN_LIMIT_MS = 30_000;


/** `--listen 9443`, `--listen 0.0.0.0:9443`, `--listen [::]:9443`. */
export function parseListen(command: string, text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const host = match?.[1] || match?.[2] || "0.0.0.0";
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65_535 || (host !== "localhost" && isIP(host) === 0)) {
    throw new CliUsageError(`${command}: --listen ${text} is not HOST:PORT (an IP address or localhost, and a port 0-65535), e.g. 0.0.0.0:9443.`);
  }
  return { host, port };
}

function parseUpstream(text: string | undefined): URL {
  if (!text) throw new CliUsageError("guard: --upstream URL is required: the HTTP app behind the guard, e.g. http://127.0.0.1:8080.");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliUsageError(`guard: --upstream ${text} is not a URL; give e.g. http://127.0.0.1:8080.`);
  }
  if (url.protocol !== "http:" || url.pathname !== "/" || url.search || url.username) {
    throw new CliUsageError(`guard: --upstream ${text} must be http://HOST:PORT with no path: the guard terminates TLS and talks plain HTTP to an app on this host or a private network.`);
  }
  return url;
}

/** Each id must be one a SPIFFE path segment allows, as Moat issues them. */
function checkIds(what: string, ids: readonly string[]): string[] {
  for (const id of ids) {
    if (!parseEdgeSpiffeId(`spiffe://x/distribution/${id}/origin/x`)) {
      throw new CliUsageError(`guard: --${what} ${JSON.stringify(id)} is not an id Moat uses (a letter or digit, then letters, digits, ".", "-", "_").`);
    }
  }
  return [...ids];
}

function filePaths(values: { dir?: string | undefined; cert?: string | undefined; key?: string | undefined; "ca-bundle"?: string | undefined; crl?: string | undefined; "without-crl"?: boolean | undefined }): GuardFilePaths {
  const fromDir = (name: keyof typeof GUARD_DIR_FILES) => (values.dir ? join(values.dir, GUARD_DIR_FILES[name]) : undefined);
  const cert = values.cert ?? fromDir("cert");
  const key = values.key ?? fromDir("key");
  const caBundle = values["ca-bundle"] ?? fromDir("caBundle");
  const crl = values["without-crl"] ? undefined : (values.crl ?? fromDir("crl"));
  const missing = [!cert && "--cert", !key && "--key", !caBundle && "--ca-bundle", !crl && !values["without-crl"] && "--crl"].filter(Boolean);
  if (missing.length > 0) {
    throw new CliUsageError(`guard: give --dir DIR (as \`moat enrol\` fills it) or ${missing.join(", ")}.`, { fix: "run `moat guard --help`" });
  }
  return { cert: resolve(cert as string), key: resolve(key as string), caBundle: resolve(caBundle as string), crl: crl === undefined ? undefined : resolve(crl) };
}

export async function runGuard(args: string[]): Promise<number> {
  const { values } = parseCliArgs("guard", args, {
    upstream: { type: "string" },
    distribution: { type: "string", multiple: true, default: [] },
    origin: { type: "string", multiple: true, default: [] },
    listen: { type: "string", default: "0.0.0.0:9443" },
    dir: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    "ca-bundle": { type: "string" },
    crl: { type: "string" },
    "without-crl": { type: "boolean", default: false },
    "trust-domain": { type: "string", default: DEFAULT_TRUST_DOMAIN },
    "log-level": { type: "string", default: "info" },
    ...CONNECTION_FLAGS,
    ...TLS_FLAGS,
  });
  const connections = connectionLimits("guard", values, CONNECTION_DEFAULTS.guardConnections);
  const tls = parseTlsFlags("guard", values);
  const distributions = checkIds("distribution", values.distribution ?? []);
  if (distributions.length === 0) throw new CliUsageError("guard: --distribution ID is required (repeat it to accept several): the guard accepts the edge of these distributions only.");
  const origins = checkIds("origin", values.origin ?? []);
  const trustDomain = values["trust-domain"] ?? DEFAULT_TRUST_DOMAIN;
  if (!parseEdgeSpiffeId(`spiffe://${trustDomain}/distribution/x/origin/x`)) throw new CliUsageError(`guard: --trust-domain ${trustDomain} is not a SPIFFE trust domain (lower-case letters, digits, ".", "-", "_").`);
  const upstream = parseUpstream(values.upstream);
  const listen = parseListen("guard", values.listen ?? "0.0.0.0:9443");
  const files = filePaths(values);
  const log = createLogger({ level: values["log-level"] as LoggerOptions["level"] });
  const guard = await startGuard({ listen, upstream, files, policy: { trustDomain, distributions, ...(origins.length ? { origins } : {}) }, log, connections, tls });
  const onHup = () => void guard.reload();
  process.on("SIGHUP", onHup);
  const signal = await new Promise<string>((done) => {
    process.once("SIGTERM", () => done("SIGTERM"));
    process.once("SIGINT", () => done("SIGINT"));
  });
  process.off("SIGHUP", onHup);
  log.info({ signal }, "stopping: no new connections; requests in flight finish");
  await guard.stop(DRAIN_LIMIT_MS);
  log.info("guard stopped");
  return 0;
}
