// The verifier and middleware as an app gets them: `import … from "moat/guard"` in a project that has Moat in its node_modules, served from the compiled build (Node does not strip types under node_modules).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = new URL("../..", import.meta.url).pathname;

test("an app with moat in node_modules imports moat/guard, and runs the moat command, from the compiled build", { timeout: 120_000 }, async (t) => {
  const app = await mkdtemp(join(tmpdir(), "moat-consumer-"));
  t.after(() => rm(app, { recursive: true, force: true }));
  const installed = join(app, "node_modules", "moat");
  await mkdir(installed, { recursive: true });
  // What `npm run build` (and `npm pack`, through prepack) produces, written where an install puts it.
  await run(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", join(repo, "tsconfig.build.json"), "--outDir", join(installed, "dist")]);
  // A worker thread's entry is loaded by URL, which tsc does not follow: each must be one of the build's "files".
  const entries = await threadEntries();
  assert.ok(entries.length >= 1, `the config thread's entry at least: ${entries.join(", ")}`);
  for (const entry of entries) assert.ok(await stat(join(installed, "dist", entry.replace(/\.ts$/, ".js"))).then((found) => found.isFile(), () => false), `dist/ has ${entry} (add src/${entry} to tsconfig.build.json "files")`);
  const manifest = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  await writeFile(join(installed, "package.json"), JSON.stringify(manifest));
  // Moat's own dependencies, as npm would install them next to it.
  for (const name of Object.keys(manifest.dependencies)) {
    await mkdir(join(app, "node_modules", name, ".."), { recursive: true });
    await symlink(join(repo, "node_modules", name), join(app, "node_modules", name));
  }
  await writeFile(
    join(app, "app.mjs"),
    `import * as guard from "moat/guard";
const names = ["createGuardTrust", "createEdgeVerifier", "guardTlsOptions", "requireEdgeIdentity", "expressEdgeGuard", "fastifyEdgeGuard", "edgeIdentityOf", "startGuard", "originSnippet"];
console.log(JSON.stringify(Object.fromEntries(names.map((name) => [name, typeof guard[name]]))));
`,
  );
  const { stdout } = await run(process.execPath, ["app.mjs"], { cwd: app });
  const kinds = JSON.parse(stdout) as Record<string, string>;
  for (const [name, kind] of Object.entries(kinds)) assert.equal(kind, "function", name);
  assert.ok((await stat(join(installed, "dist", "guard", "index.d.ts"))).isFile(), "types for TypeScript apps");

  // The `moat` command an install links (package.json "bin") runs from the same build.
  const manifestBin = (JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { bin: { moat: string } }).bin.moat;
  const key = Buffer.alloc(32, 7).toString("base64");
  const init = await run(process.execPath, [join(installed, manifestBin), "ca", "init", "--data-dir", join(app, "data")], { cwd: app, env: { ...process.env, MOAT_MASTER_KEY: key } });
  assert.match(init.stdout, /Created Moat's CA/);
  assert.ok((await stat(join(app, "data", "ca", "bundle.pem"))).isFile());
});

/** The thread entries src/ names, relative to src/: `new URL(\`./NAME-entry${extname(...)}\`, import.meta.url)` in a module. */
async function threadEntries(): Promise<string[]> {
  const src = join(repo, "src");
  const entries: string[] = [];
  for (const file of await readdir(src, { recursive: true })) {
    if (!file.endsWith(".ts")) continue;
    const text = await readFile(join(src, file), "utf8");
    for (const match of text.matchAll(/new URL\(`\.\/([\w-]+-entry)\$\{extname/g)) entries.push(join(dirname(file), `${match[1]}.ts`));
  }
  return entries;
}
