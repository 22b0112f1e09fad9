// Runs the real `moat` command in a child process: to completion, or long-running with its JSON log lines as they arrive.
import net from "node:net";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

export const cliMain = new URL("../../src/cli/main.ts", import.meta.url).pathname;
/** The repository root, where package.json's scripts run. */
export const repoRoot = new URL("../..", import.meta.url).pathname;

export interface MoatExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface MoatRun extends MoatExit {
  stdout: string;
  stderr: string;
}

export type LogLine = Record<string, unknown>;

/** A running `moat` process; its stdout is read both as JSON log lines and as plain text (the demo prints both). */
export interface RunningMoat {
  child: ChildProcess;
  lines: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves once every stdio stream has closed, so nothing printed is missed. */
  exited: Promise<MoatExit>;
  /** Resolves with the first log line that matches; rejects (with stderr) if the process ends first. */
  waitForLine(what: string, predicate: (line: LogLine) => boolean): Promise<LogLine>;
  /** Resolves once stdout as a whole matches; rejects (with stderr) if the process ends first. */
  waitForStdout(what: string, predicate: (stdout: string) => boolean): Promise<string>;
  /** SIGKILLs the process if it is still running and waits for it: for `after` hooks, whatever happened. */
  kill(): Promise<void>;
}

/** Without MOAT_DATA_DIR or a master key from the caller's shell, so only what a test passes decides where state goes and which key opens it. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.MOAT_DATA_DIR;
  delete base.MOAT_MASTER_KEY;
  delete base.MOAT_MASTER_KEY_FILE;
  return { ...base, ...env };
}

/**
 * @example
 * const { code, stdout, stderr } = await runMoat(["ca", "init", "--data-dir", dir], { cwd: dir });
 */
export async function runMoat(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<MoatRun> {
  const child = spawn(process.execPath, [cliMain, ...args], { cwd: options.cwd, env: childEnv(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

/**
 * How the process is started: `node src/cli/main.ts …` (the default), or `npm run moat -- …` from
 * the repository, as a user types it (npm, then the script's shell, then node).
 */
export type MoatLauncher = "node" | "npm run";

/**
 * `detached`: the child leads a process group of its own, so a test can tell whether anything it
 * started is left (`process.kill(-child.pid, 0)`), and signals only reach the one PID they are sent to.
 * @example
 * const moat = startMoat(["demo"], { cwd: dir, env: { MOAT_DATA_DIR: dir } });
 * await moat.waitForLine("the edge to listen", (l) => l.msg === "edge listening");
 */
export function startMoat(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; launcher?: MoatLauncher; detached?: boolean }): RunningMoat {
  const [file, fileArgs, cwd] =
    options.launcher === "npm run" ? ["npm", ["run", "--silent", "moat", "--", ...args], repoRoot] : [process.execPath, [cliMain, ...args], options.cwd];
  const child = spawn(file, fileArgs, { cwd, env: childEnv(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false });
  const exited = once(child, "close").then(([code, signal]) => ({ code, signal }) as MoatExit);
  const lines: LogLine[] = [];
  let stdout = "";
  let stderr = "";
  let partial = "";
  const checks = new Set<() => void>();
  const recheck = () => checks.forEach((check) => check());

  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
    const parts = (partial + text).split("\n");
    partial = parts.pop() ?? "";
    for (const part of parts) {
      if (!part.startsWith("{")) continue; // the demo's welcome text
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        // not a log line
      }
    }
    recheck();
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));

  function waitUntil<T>(what: string, probe: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let isSettled = false;
      const check = () => {
        const found = probe();
        if (isSettled || found === undefined) return;
        isSettled = true;
        checks.delete(check);
        resolve(found);
      };
      checks.add(check);
      check();
      void exited.then((exit) => {
        if (isSettled) return;
        isSettled = true;
        checks.delete(check);
        reject(new Error(`moat ${args.join(" ")} ended (code ${exit.code}, signal ${exit.signal}) before ${what}.\nstderr:\n${stderr}\nstdout:\n${stdout}`));
      });
    });
  }

  return {
    child,
    lines,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLine: (what, predicate) => waitUntil(what, () => lines.find(predicate)),
    waitForStdout: (what, predicate) => waitUntil(what, () => (predicate(stdout) ? stdout : undefined)),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** True while some process of the group `pgid` leads is alive (signal 0 only checks). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** Resolves with the connect error's code (ECONNREFUSED once nothing listens), or "connected". */
export function probePort(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}
