// The web console's built files (Vite's output in dist/console), served by the admin API under /console/ with a strict CSP: loading them needs no credentials, every call they make is an API call like any other.
import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiNotFoundError, ConsoleNotBuiltError } from "../errors.ts";

/** Where the console lives on the API: `https://127.0.0.1:8444/console/`. */
export const CONSOLE_PATH = "/console/";

/**
 * The build's output (`npm run console:build`). Two levels under the package's root from src/control and from
 * dist/control alike, so the same path serves a checkout run from source and the published package.
 */
export const CONSOLE_BUILD_DIR = fileURLToPath(new URL("../../dist/console", import.meta.url));

/**
 * Scripts, styles and fonts from the API's own origin only: no inline script or style, no eval, nothing framed,
 * no form posted elsewhere. The console's calls go to the same origin (connect-src 'self'), never to a third party.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const MEDIA_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
};

interface ConsoleFile {
  body: Buffer;
  type: string;
}

/** The built files by their path under /console/ (`index.html`, `assets/index-3f2a.js`); undefined when none is built. */
export async function loadConsoleFiles(directory: string = CONSOLE_BUILD_DIR): Promise<ReadonlyMap<string, ConsoleFile> | undefined> {
  let names: string[];
  try {
    names = await readdir(directory, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!names.includes("index.html")) return undefined;
  const files = new Map<string, ConsoleFile>();
  for (const name of names) {
    const type = MEDIA_TYPES[extname(name)];
    // Only the kinds of file a build makes; a stray file (a source map, an editor's backup) is not served.
    if (type === undefined) continue;
    const path = join(directory, name);
    files.set(relative(directory, path).split(sep).join("/"), { body: await readFile(path), type });
  }
  return files;
}

/** What /console/<path> answers: a file's bytes and headers; a refusal is thrown (the API's error handler answers it). */
export interface ConsoleSite {
  serve(path: string): { body: Buffer; headers: Readonly<Record<string, string>> };
}

/**
 * The console under /console/: its files by name, and its index for any other path without an extension (a page of
 * the console, `/console/distributions/shop`, that the browser loads afresh). The admin API serves it on routes that
 * need no credentials (the sign-in form is one of these files; none holds a secret).
 */
export function createConsoleSite(files: ReadonlyMap<string, ConsoleFile> | undefined, directory: string = CONSOLE_BUILD_DIR): ConsoleSite {
  const answer = (file: ConsoleFile) => ({ body: file.body, headers: { ...SECURITY_HEADERS, "content-type": file.type } });
  return {
    serve(path) {
      const index = files?.get("index.html");
      if (!files || !index) throw new ConsoleNotBuiltError(directory);
      const file = files.get(path);
      if (file) return answer(file);
      if (path === "" || extname(path) === "") return answer(index);
      throw new ApiNotFoundError(`the console's file ${path}`);
    },
  };
}
