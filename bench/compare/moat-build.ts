// Moat as users run it: the compiled command (dist/, built first) under node with the edge's flags and malloc settings, not the TypeScript sources.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { EDGE_MALLOC_ENV, EDGE_NODE_FLAGS } from "../../src/cli/run/edge-runtime.ts";

const REPO_ROOT = new URL("../..", import.meta.url).pathname;
const TSC = new URL("../../node_modules/typescript/bin/tsc", import.meta.url).pathname;
const MOAT_DIST_MAIN = new URL("../../dist/cli/main.js", import.meta.url).pathname;
const BUILD_TIMEOUT_MS = 120_000;

/**
 * `npm run build` (tsc -p tsconfig.build.json), without npm in between. Running the sources would make Node strip
 * their types at load, which alone costs about 18 MB of resident memory that no deployment has.
 */
export async function buildMoat(): Promise<void> {
  await promisify(execFile)(process.execPath, [TSC, "-p", "tsconfig.build.json"], { cwd: REPO_ROOT, timeout: BUILD_TIMEOUT_MS }).catch((error: { stdout?: string; message: string }) => {
    throw new Error(`npm run build failed, so the bench has no Moat to run:\n${error.stdout || error.message}`);
  });
}

/**
 * node's arguments and environment for `moat <args>`, as packaging/ starts it.
 * @example
 * const { args, env } = moatCommand(["start", "--config", file]);
 * group.start("moat", process.execPath, args, { env });
 */
export function moatCommand(moatArgs: string[]): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: [...EDGE_NODE_FLAGS, MOAT_DIST_MAIN, ...moatArgs], env: { ...process.env, ...EDGE_MALLOC_ENV } };
}
