// Finds the programs the side-by-side bench runs (nginx, wrk, h2load, taskset) on PATH or in the sbin directories.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export interface BenchTools {
  nginx: string;
  wrk: string;
  h2load: string;
  taskset: string;
}

/** Debian package of each program, for the install hint. */
const PACKAGES: Record<keyof BenchTools, string> = { nginx: "nginx", wrk: "wrk", h2load: "nghttp2-client", taskset: "util-linux" };

/**
 * Every tool's path, or the names of the missing ones and the command that installs them.
 * @example
 * const found = findBenchTools();
 * if (!found.ok) console.error(found.hint);
 */
export function findBenchTools(): { ok: true; tools: BenchTools } | { ok: false; missing: string[]; hint: string } {
  const found: Partial<BenchTools> = {};
  const missing: Array<keyof BenchTools> = [];
  for (const name of Object.keys(PACKAGES) as Array<keyof BenchTools>) {
    const path = findExecutable(name);
    if (path) found[name] = path;
    else missing.push(name);
  }
  if (missing.length === 0) return { ok: true, tools: found as BenchTools };
  const packages = [...new Set(missing.map((name) => PACKAGES[name]))].join(" ");
  return { ok: false, missing, hint: `missing ${missing.join(", ")}: install with \`sudo apt-get install -y ${packages}\` (Debian/Ubuntu)` };
}

export function findExecutable(name: string): string | undefined {
  // nginx lives in /usr/sbin, which a non-root PATH often lacks.
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}
