// Configuration for other origin servers (nginx, HAProxy, Caddy, Envoy) that makes them require Moat's edge certificate, and its identity wherever they can check it.
import { caddySnippet } from "./caddy-snippet.ts";
import { envoySnippet } from "./envoy-snippet.ts";
import { haproxySnippet } from "./haproxy-snippet.ts";
import { nginxSnippet } from "./nginx-snippet.ts";
import type { SnippetInput } from "./snippet-input.ts";

export type { SnippetInput } from "./snippet-input.ts";

export const SNIPPET_SERVERS = ["nginx", "haproxy", "caddy", "envoy"] as const;
export type SnippetServer = (typeof SNIPPET_SERVERS)[number];

const byServer: Readonly<Record<SnippetServer, (input: SnippetInput) => string>> = {
  nginx: nginxSnippet,
  haproxy: haproxySnippet,
  caddy: caddySnippet,
  envoy: envoySnippet,
};

/**
 * @example
 * process.stdout.write(originSnippet("nginx", { trustDomain: "moat.internal", distributions: ["shop"], files, listen: { host: "0.0.0.0", port: 9443 }, upstream: "http://127.0.0.1:8080" }));
 */
export function originSnippet(server: SnippetServer, input: SnippetInput): string {
  return byServer[server](input);
}
