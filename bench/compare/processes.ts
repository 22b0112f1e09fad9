// The bench's child processes: each leads its own process group, so stopping it stops what it started (nginx's workers); all are stopped on exit, failure or a signal.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

export interface BenchProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** What the process wrote to stderr (and stdout when piped), for the error message if it dies. */
  output(): string;
  exited: Promise<void>;
}

/** Every process started and not yet stopped, so a signal handler can stop them. */
export class ProcessGroup {
  readonly #running = new Set<BenchProcess>();

  /**
   * Starts `command` in a new process group. `cpu` pins it (and its children) with taskset.
   * @example
   * const nginx = group.start("origin", "nginx", ["-c", conf], { taskset, cpu: "1" });
   */
  start(name: string, command: string, args: string[], options: { taskset?: string; cpu?: string | null; env?: NodeJS.ProcessEnv; stdout?: "ignore" | "pipe" } = {}): BenchProcess {
    const [file, fileArgs] = options.cpu && options.taskset ? [options.taskset, ["-c", options.cpu, command, ...args]] : [command, args];
    const child = spawn(file, fileArgs, { detached: true, stdio: ["ignore", options.stdout ?? "pipe", "pipe"], env: options.env ?? process.env });
    let output = "";
    const keep = (chunk: Buffer) => {
      // The last 16 KiB is enough to say why it failed.
      output = (output + chunk.toString("utf8")).slice(-16_384);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = once(child, "exit").then(() => undefined, () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const started: BenchProcess = { name, child, pid: child.pid, output: () => output, exited };
    this.#running.add(started);
    void exited.then(() => this.#running.delete(started));
    return started;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(process_: BenchProcess, graceMs = 3000): Promise<void> {
    if (process_.child.exitCode !== null || process_.child.signalCode !== null) return this.#killGroup(process_, "SIGKILL");
    this.#killGroup(process_, "SIGTERM");
    const timer = setTimeout(() => this.#killGroup(process_, "SIGKILL"), graceMs);
    await process_.exited;
    clearTimeout(timer);
    // Workers that outlived their master (they should not) go too.
    this.#killGroup(process_, "SIGKILL");
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((running) => this.stop(running)));
  }

  /** Synchronous, for process.on("exit"): SIGKILL to every group still running. */
  killAllNow(): void {
    for (const running of this.#running) this.#killGroup(running, "SIGKILL");
  }

  #killGroup(running: BenchProcess, signal: NodeJS.Signals): void {
    try {
      process.kill(-running.pid, signal);
    } catch {
      // already gone
    }
  }
}
