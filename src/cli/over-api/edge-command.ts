// `moat edge list`: the edges run from the admin API's store, each with its region, the revision it serves, how far behind it is, its last heartbeat, its health and its certificates' expiry; `moat edge token …`: the join tokens.
import { parseDuration } from "../../config/index.ts";
import { CliUsageError } from "../../errors.ts";
import type { EdgeList, JoinToken } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { formatTable, printResult } from "../table-output.ts";

type EdgeItem = EdgeList["items"][number];

/** A duration for people, to the coarsest unit that keeps it readable: 4s, 3m 20s, 5h 2m, 3d. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

/** How far behind, in revisions and since when the first one it lacks was committed (by the API's clock). */
function behindCell(edge: EdgeItem): string {
  if (edge.behindRevisions === 0) return "0";
  const revisions = `${edge.behindRevisions} revision${edge.behindRevisions === 1 ? "" : "s"}`;
  if (edge.behindSince === null) return revisions;
  // The API's now: its heartbeat time plus the age it gave it.
  const now = Date.parse(edge.lastSeenAt) + edge.heartbeatAgeMs;
  return `${revisions}, ${formatAge(now - Date.parse(edge.behindSince))}`;
}

/** The soonest expiry of its active certificates (the day is enough to plan by), and how many expire within 7 days. */
function certificatesCell(edge: EdgeItem): string {
  if (edge.certificatesExpireAt === null) return "-";
  const day = edge.certificatesExpireAt.slice(0, 10);
  return edge.certificatesExpiringSoon === 0 ? day : `${day} (${edge.certificatesExpiringSoon} within 7d)`;
}

/** The table `moat edge list` prints. */
export function edgesTable(list: EdgeList) {
  return {
    header: ["NAME", "REGION", "REVISION", "BEHIND", "LAST HEARTBEAT", "HEALTH", "CERTS EXPIRE", "JOINED"],
    rows: list.items.map((edge) => [
      edge.name,
      edge.region ?? "-",
      edge.revision === null ? "-" : String(edge.revision),
      behindCell(edge),
      `${formatAge(edge.heartbeatAgeMs)} ago`,
      edge.health,
      certificatesCell(edge),
      // joined: its CSRs go to the CA node, it holds no master key; self-issuing: it signs its own certificates with the CA's keys.
      edge.joinedAt === null ? "self-issuing" : "joined",
    ]),
  };
}

export async function runEdgeList(args: string[]): Promise<number> {
  const command = "edge list";
  const { values } = parseCliArgs(command, args, { ...API_FLAGS, json: { type: "boolean", default: false }, "max-lag": { type: "string" } });
  if (values["max-lag"] !== undefined) {
    try {
      parseDuration(values["max-lag"]);
    } catch (error) {
      throw new CliUsageError(`${command}: --max-lag ${(error as Error).message}`, { fix: "give how long an edge may serve an older revision before it is behind, e.g. --max-lag 30s" });
    }
  }
  const query = values["max-lag"] === undefined ? {} : { maxLag: values["max-lag"] };
  const list = (await withApi(command, values, async (moat) => (await moat.GET("/edges", { params: { query } })).data)) as EdgeList;
  const newest = list.revision === 0 ? "The store has no revision yet." : `Newest revision: ${list.revision}${list.revisionAt === null ? "" : `, committed ${list.revisionAt}`}; behind means serving an older one for over ${formatAge(list.maxLagMs)}.`;
  const { header, rows } = edgesTable(list);
  const text = rows.length === 0 ? `No edge has run from this store yet (an edge started with --store reports within a second).\n${newest}\n` : `${formatTable(header, rows)}${newest}\n`;
  printResult(values.json, list, text);
  return 0;
}

/** `moat edge token create`: a one-time join token over the admin API; the secret alone on stdout (TOKEN=$(moat edge token create …)). */
export async function runEdgeTokenCreate(args: string[]): Promise<number> {
  const command = "edge token create";
  const { values } = parseCliArgs(command, args, { ...API_FLAGS, name: { type: "string" }, region: { type: "string" }, ttl: { type: "string", default: "1h" } });
  if (!values.name) throw new CliUsageError(`${command}: --name NAME is required: the name the edge joins and runs under.`, { fix: "e.g. `moat edge token create --name fra-1 --region eu-central`" });
  try {
    parseDuration(values.ttl ?? "1h");
  } catch (error) {
    throw new CliUsageError(`${command}: --ttl ${(error as Error).message}`, { fix: "give how long the token can be used, e.g. --ttl 1h (at most 7d)" });
  }
  const body = { name: values.name, ttl: values.ttl ?? "1h", ...(values.region !== undefined ? { region: values.region } : {}) };
  const created = (await withApi(command, values, async (moat) => (await moat.POST("/edges/join-tokens", { body })).data)) as { secret: string; token: { id: string; name: string; region: string | null; expiresAt: string } };
  const { token } = created;
  process.stderr.write(`Created join token ${token.id} for edge ${token.name}${token.region ? ` (${token.region})` : ""}, usable once until ${token.expiresAt}. It is shown once: only its SHA-256 is stored.\n`);
  process.stdout.write(`${created.secret}\n`);
  return 0;
}

/** The table `moat edge token list` prints: never a secret (the API has none to give). */
export function joinTokensTable(tokens: readonly JoinToken[]) {
  return {
    header: ["ID", "NAME", "REGION", "STATE", "CREATED", "EXPIRES", "USED", "REVOKED"],
    rows: tokens.map((token) => [token.id, token.name, token.region ?? "-", token.state, token.createdAt, token.expiresAt, token.usedAt ?? "-", token.revokedAt ?? "-"]),
    empty: "No join tokens (`moat edge token create --name NAME` makes one).",
  };
}

/** `moat edge token list`: every join token over the admin API, with its state (usable, used, revoked, expired). */
export async function runEdgeTokenList(args: string[]): Promise<number> {
  const command = "edge token list";
  const { values } = parseCliArgs(command, args, { ...API_FLAGS, json: { type: "boolean", default: false } });
  const tokens = (await withApi(command, values, async (moat) => (await moat.GET("/edges/join-tokens")).data?.items ?? [])) as JoinToken[];
  printResult(values.json, tokens, joinTokensTable(tokens));
  return 0;
}

/** `moat edge token revoke ID`: an unused join token joins nobody from then on. */
export async function runEdgeTokenRevoke(args: string[]): Promise<number> {
  const command = "edge token revoke";
  const { values, positionals } = parseCliArgs(command, args, { ...API_FLAGS, json: { type: "boolean", default: false } }, true);
  const [id, ...rest] = positionals;
  if (!id || rest.length > 0 || !/^[0-9a-f]{16}$/.test(id)) throw new CliUsageError(`${command}: give exactly one join token ID, 16 hex digits.`, { fix: "`moat edge token list` shows them (and `moat edge token create` printed it on stderr)" });
  const token = (await withApi(command, values, async (moat) => (await moat.DELETE("/edges/join-tokens/{id}", { params: { path: { id } } })).data)) as JoinToken;
  printResult(values.json, token, `Join token ${token.id} (edge ${token.name}) is revoked since ${token.revokedAt}: it joins nobody.`);
  return 0;
}
