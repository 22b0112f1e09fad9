// `moat origin snippet SERVER`: prints nginx, HAProxy, Caddy or Envoy config that requires the edge's certificate and checks its identity where the server can.
import { join, resolve } from "node:path";
import { CliUsageError } from "../../errors.ts";
import { DEFAULT_TRUST_DOMAIN, GUARD_DIR_FILES, originSnippet, parseEdgeSpiffeId, SNIPPET_SERVERS } from "../../guard/index.ts";
import type { SnippetServer } from "../../guard/index.ts";
import { parseCliArgs } from "../cli-args.ts";
import { parseListen } from "./guard-command.ts";

function checkIds(what: string, ids: readonly string[]): string[] {
  const bad = ids.find((id) => !parseEdgeSpiffeId(`spiffe://x/distribution/${id}/origin/x`));
  if (bad !== undefined) throw new CliUsageError(`origin snippet: --${what} ${JSON.stringify(bad)} is not an id Moat uses (a letter or digit, then letters, digits, ".", "-", "_").`);
  return [...ids];
}

export async function runOriginSnippet(args: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(
    "origin snippet",
    args,
    {
      distribution: { type: "string", multiple: true, default: [] },
      origin: { type: "string", multiple: true, default: [] },
      dir: { type: "string", default: "/etc/moat-guard" },
      listen: { type: "string", default: "0.0.0.0:9443" },
      upstream: { type: "string", default: "http://127.0.0.1:8080" },
      "trust-domain": { type: "string", default: DEFAULT_TRUST_DOMAIN },
    },
    true,
  );
  const [server, ...extra] = positionals;
  if (!server || extra.length > 0 || !SNIPPET_SERVERS.includes(server as SnippetServer)) {
    throw new CliUsageError(`origin snippet: name one server: ${SNIPPET_SERVERS.join(", ")}.`, { fix: "run `moat origin snippet nginx --distribution ID`" });
  }
  const distributions = checkIds("distribution", values.distribution ?? []);
  if (distributions.length === 0) throw new CliUsageError("origin snippet: --distribution ID is required (repeat it to accept several).");
  const origins = checkIds("origin", values.origin ?? []);
  let upstream: URL;
  try {
    upstream = new URL(values.upstream ?? "");
  } catch {
    throw new CliUsageError(`origin snippet: --upstream ${values.upstream} is not a URL, e.g. http://127.0.0.1:8080.`);
  }
  if (upstream.protocol !== "http:") throw new CliUsageError(`origin snippet: --upstream ${values.upstream} must be an http:// URL (the app behind the server).`);
  const dir = resolve(values.dir ?? "/etc/moat-guard");
  const files = { cert: join(dir, GUARD_DIR_FILES.cert), key: join(dir, GUARD_DIR_FILES.key), caBundle: join(dir, GUARD_DIR_FILES.caBundle), crl: join(dir, GUARD_DIR_FILES.crl) };
  const snippet = originSnippet(server as SnippetServer, {
    trustDomain: values["trust-domain"] ?? DEFAULT_TRUST_DOMAIN,
    distributions,
    ...(origins.length ? { origins } : {}),
    files,
    listen: parseListen("origin snippet", values.listen ?? "0.0.0.0:9443"),
    upstream: upstream.origin,
  });
  process.stdout.write(snippet);
  return 0;
}
