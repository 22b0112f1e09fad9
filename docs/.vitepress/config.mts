// The documentation site: `npm run docs:build` (static, in docs/.vitepress/dist) and `npm run docs:dev`. The pages are plain Markdown that any forge renders too.
import { defineConfig } from "vitepress";

export default defineConfig({
  title: "Moat",
  description: "A self-hosted CDN edge with end-to-end mutual TLS",
  cleanUrls: true,
  lastUpdated: false,
  // BENCHMARKS.md links to the bench code's README beside it, outside the site (GitHub follows it); every other
  // dead link fails the build. test/docs/links.test.ts allows that page alone to link out of docs/.
  ignoreDeadLinks: [/^\.\/\.\.\/bench\//],
  themeConfig: {
    nav: [
      { text: "Tutorials", link: "/tutorials/" },
      { text: "How-to", link: "/how-to/" },
      { text: "Explanation", link: "/explanation/" },
      { text: "Reference", link: "/reference/" },
    ],
    sidebar: [
      {
        text: "Tutorials",
        link: "/tutorials/",
        items: [
          { text: "Run the demo", link: "/tutorials/run-the-demo" },
          { text: "Front your first origin", link: "/tutorials/front-your-first-origin" },
          { text: "Require viewer certificates", link: "/tutorials/require-viewer-certificates" },
          { text: "Guard a Node.js app", link: "/tutorials/guard-a-node-app" },
          { text: "Moat in front of nginx", link: "/tutorials/nginx-origin" },
        ],
      },
      {
        text: "How-to guides",
        link: "/how-to/",
        items: [
          { text: "Run your own edge", link: "/how-to/run-your-own-edge" },
          { text: "Run from a store", link: "/how-to/run-from-a-store" },
          { text: "Run a fleet", link: "/how-to/run-a-fleet" },
          { text: "Use the web console", link: "/how-to/use-the-console" },
          { text: "Steer with the CLI and SDK", link: "/how-to/steer-moat-with-the-cli-and-sdk" },
          { text: "Rotate and revoke", link: "/how-to/rotate-and-revoke" },
          { text: "Import a certificate", link: "/how-to/import-a-certificate" },
          { text: "Roll the CA", link: "/how-to/roll-the-ca" },
          { text: "Invalidate", link: "/how-to/invalidate" },
          { text: "Diagnose with moat doctor", link: "/how-to/diagnose-with-moat-doctor" },
          { text: "Behind a load balancer", link: "/how-to/run-behind-a-load-balancer" },
          { text: "Origin shield", link: "/how-to/origin-shield" },
          { text: "Back up", link: "/how-to/back-up" },
          { text: "Run workers", link: "/how-to/run-workers" },
          { text: "Run under a supervisor", link: "/how-to/run-under-a-supervisor" },
          { text: "Monitor with Prometheus", link: "/how-to/monitor-with-prometheus" },
          { text: "Trace with OpenTelemetry", link: "/how-to/trace-with-opentelemetry" },
        ],
      },
      {
        text: "Explanation",
        link: "/explanation/",
        items: [
          { text: "Identity model", link: "/explanation/identity-model" },
          { text: "Per-distribution identity", link: "/explanation/per-distribution-identity" },
          { text: "Security model", link: "/explanation/security-model" },
          { text: "The cache", link: "/explanation/cache" },
          { text: "On the wire", link: "/explanation/on-the-wire" },
          { text: "Performance", link: "/explanation/performance" },
          { text: "Architecture", link: "/explanation/architecture" },
          { text: "The store", link: "/explanation/store" },
          { text: "A fleet at scale", link: "/explanation/fleet-scale" },
          { text: "The audit trail", link: "/explanation/audit-trail" },
        ],
      },
      {
        text: "Reference",
        link: "/reference/",
        items: [
          { text: "Config file", link: "/reference/config-file" },
          { text: "Configuration overview", link: "/reference/configuration" },
          { text: "CLI", link: "/reference/cli" },
          { text: "Admin API", link: "/reference/admin-api" },
          { text: "Errors", link: "/reference/errors" },
          { text: "HTTP headers", link: "/reference/headers" },
          { text: "When an origin fails", link: "/reference/origin-failures" },
          { text: "Connections", link: "/reference/connections" },
          { text: "Viewer mTLS", link: "/reference/viewer-mtls" },
          { text: "WebSocket", link: "/reference/websocket" },
          { text: "Logs", link: "/reference/logs" },
          { text: "Metrics", link: "/reference/metrics" },
          { text: "Guard and enrolment", link: "/reference/guard" },
        ],
      },
      { text: "Benchmarks", link: "/BENCHMARKS" },
      { text: "Status", link: "/status" },
    ],
    search: { provider: "local" },
  },
});
