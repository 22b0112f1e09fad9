// nginx configurations of the bench: the mTLS origin (static bodies) and the peer edge (proxy_cache over mTLS), as Moat is set up.
import type { BenchPkiFiles } from "./bench-pki.ts";
import { BENCH_HOST } from "./bench-pki.ts";

/** Response bodies the origin serves, by size in bytes: /cache/<bytes> (cacheable an hour) and /no-store/<bytes>. */
export const BODY_SIZES = [1024, 16 * 1024, 1024 * 1024] as const;

/** The header the nginx edge adds with `$upstream_cache_status` (HIT, MISS, BYPASS...). */
export const NGINX_CACHE_STATUS_HEADER = "x-cache-status";

/** Everything before the `server` blocks: no daemon, pid and temp files under `prefix`, no access log, long keep-alive. Leaves `http {` open. */
export function nginxPreamble(prefix: string, workers: number, errorLevel: string): string {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((name) => `${name}_temp_path ${prefix}/${name}_temp;`).join("\n  ");
  return `daemon off;
pid ${prefix}/nginx.pid;
error_log stderr ${errorLevel};
worker_processes ${workers};
${process.getuid?.() === 0 ? "user root;" : ""}
events { worker_connections 4096; }
http {
  access_log off;
  ${temp}
  keepalive_requests 1000000;
  keepalive_timeout 75s;
`;
}

/**
 * The origin: TLS 1.3, requires a client certificate that chains to Moat's CA, serves `bodiesDir/<bytes>` files.
 * @example
 * await writeFile(conf, nginxOriginConf({ prefix, port, bodiesDir, pki, workers: 1 }));
 */
export function nginxOriginConf(options: { prefix: string; port: number; bodiesDir: string; pki: BenchPkiFiles; workers: number }): string {
  const { pki } = options;
  return `${nginxPreamble(options.prefix, options.workers, "warn")}
${mtlsOriginServer(options.port, pki, [
  `location /cache/ { alias ${options.bodiesDir}/; add_header Cache-Control "public, max-age=3600" always; }`,
  `location /no-store/ { alias ${options.bodiesDir}/; add_header Cache-Control "no-store" always; }`,
])}
}
`;
}

/**
 * The peer edge: the same viewer certificate, TLS 1.3, HTTP/2 by ALPN, proxy_cache, the same client certificate to the
 * origin with the origin's certificate verified against Moat's CA, pooled keep-alive connections to the origin.
 * @example
 * await writeFile(conf, nginxEdgeConf({ prefix, port, originPort, pki, workers: 1 }));
 */
export function nginxEdgeConf(options: { prefix: string; port: number; originPort: number; pki: BenchPkiFiles; workers: number }): string {
  const { pki } = options;
  return `${nginxPreamble(options.prefix, options.workers, "warn")}
  proxy_cache_path ${options.prefix}/cache levels=1:2 keys_zone=edge:10m max_size=1g inactive=1h use_temp_path=off;
  upstream origin {
    server 127.0.0.1:${options.originPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${options.port} ssl http2;
    server_name ${BENCH_HOST};
    ssl_protocols TLSv1.3;
    ssl_certificate ${pki.viewerCert};
    ssl_certificate_key ${pki.viewerKey};
    location / {
      proxy_pass https://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${pki.clientCert};
      proxy_ssl_certificate_key ${pki.clientKey};
      proxy_ssl_trusted_certificate ${pki.caBundle};
      proxy_ssl_verify on;
      proxy_ssl_verify_depth 3;
      proxy_ssl_name ${BENCH_HOST};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
      proxy_cache edge;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`;
}

/** An origin's `server` block: TLS 1.3, a client certificate from Moat's CA required, these `location` lines. Shared with bench:scale. */
export function mtlsOriginServer(port: number, pki: BenchPkiFiles, locations: readonly string[]): string {
  return `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${pki.originCert};
    ssl_certificate_key ${pki.originKey};
    ssl_client_certificate ${pki.caBundle};
    ssl_verify_client on;
    ssl_verify_depth 3;
    default_type application/octet-stream;
${locations.map((line) => `    ${line}`).join("\n")}
  }`;
}
