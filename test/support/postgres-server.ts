// A real PostgreSQL for tests: initdb into a temporary directory, pg_ctl on a free loopback port, removed after.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const START_TIMEOUT_S = 30;

export interface PostgresServer {
  /** postgres://moat:<password>@127.0.0.1:<port>/moat */
  url: string;
  port: number;
  password: string;
  /** The server's log (connection refusals are logged there: a test can count them). */
  logFile: string;
  /** Runs one SQL statement as the superuser (psql), for what a test sets up behind the store's back. */
  psql(statement: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m fast`: every connection is closed) and keeps its data, for `resume`. */
  pause(): Promise<void>;
  /** Starts a paused server again, on the same port with the same data. */
  resume(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** The directory of Debian's PostgreSQL binaries (initdb, pg_ctl), or undefined when it is not installed. */
export function findPostgres(): string | undefined {
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  } catch {
    return undefined;
  }
  for (const version of versions) {
    const bin = join("/usr/lib/postgresql", version, "bin");
    try {
      accessSync(join(bin, "initdb"), constants.X_OK);
      return bin;
    } catch {
      // a client-only install
    }
  }
  return undefined;
}

/** The `skip` option of a suite that needs PostgreSQL: false when it is installed; with MOAT_REQUIRE_POSTGRES=1 (CI) a missing one fails instead. */
export function skipWithoutPostgres(): string | false {
  if (findPostgres() !== undefined) return false;
  if (process.env.MOAT_REQUIRE_POSTGRES === "1") assert.fail("PostgreSQL is not installed, and MOAT_REQUIRE_POSTGRES=1 says it must be (.ci/run installs it with apt-get install -y postgresql)");
  return "PostgreSQL is not installed here; `apt-get install -y postgresql` to run this test (CI installs it)";
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a PostgreSQL cluster of its own with a `moat` user (password authentication) and database. PostgreSQL
 * refuses to run as root, so under root (CI) it runs as Debian's `postgres` user.
 */
export async function startPostgres(bin: string): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), "moat-pg-"));
  const data = join(dir, "data");
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const isRoot = process.getuid?.() === 0;
  const as = async (command: string, args: string[]) => {
    const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", join(bin, command), ...args]] : [join(bin, command), args];
    const { stdout } = await run(file, argv, { timeout: START_TIMEOUT_S * 1000 });
    return stdout;
  };
  await writeFile(join(dir, "pwfile"), password);
  if (isRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    for (const path of [dir, join(dir, "pwfile")]) await chown(path, Number(stdout.trim()), Number(gid.trim()));
  }
  const port = await freePort();
  await as("initdb", ["-D", data, "-U", "moat", "--auth=scram-sha-256", `--pwfile=${join(dir, "pwfile")}`, "-E", "UTF8", "--no-sync"]);
  const start = () => as("pg_ctl", ["-D", data, "-w", "-t", String(START_TIMEOUT_S), "-l", join(dir, "log"), "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  await start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await as("pg_ctl", ["-D", data, "-w", "-t", String(START_TIMEOUT_S), "-m", "fast", "stop"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const psql = async (statement: string) => {
    const { stdout } = await run(join(bin, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "moat", "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement], {
      timeout: 10_000,
      env: { ...process.env, PGPASSWORD: password },
    });
    return stdout;
  };
  await psql("create database moat");
  const pause = async () => void (await as("pg_ctl", ["-D", data, "-w", "-t", String(START_TIMEOUT_S), "-m", "fast", "stop"]));
  const resume = async () => void (await start());
  return { url: `postgres://moat:${password}@127.0.0.1:${port}/moat`, port, password, logFile: join(dir, "log"), psql, pause, resume, stop };
}
