// Builds the web console (src/console) into dist/console, which the admin API serves under /console/ and the package ships.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL("../../src/console", import.meta.url));

export default defineConfig({
  root,
  base: "/console/",
  // No dev server reaches the API (it is TLS with client auth on its own port): the console is always built, then served by it.
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/console", import.meta.url)),
    emptyOutDir: true,
    // The CSP allows scripts and styles from the API's origin only: no inline module preload polyfill, nothing inlined as data: but images.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
  },
});
