// CPU per access line written through the logger to its destination (stdout: a file, /dev/null, a pipe; or log.accessLog.file), without an edge around it.
//
//   node bench/log-destination-cost.ts [--to stdout|file] [--lines 300000] [--src DIR] > /dev/null
//   node bench/log-destination-cost.ts | cat > /dev/null            stdout a pipe
//   node bench/log-destination-cost.ts > /tmp/out.log               stdout a regular file
//   node bench/log-destination-cost.ts --to file                    log.accessLog.file (rotated, in a temporary directory)
//
// Writes `--lines` copies of a hit's access line (its fields already serialised, as the pipeline hands them over), 40
// per turn of the event loop as a busy edge answers about that many requests per turn, so that asynchronous writes
// complete between turns as they would. Prints on stderr the process's CPU (all threads: a libuv pool thread's
// write counts) per line, less the same turns with no line. `--src` takes another tree's src/ (e.g. main's) to
// compare builds on the same machine, run in turn.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { to: { type: "string", default: "stdout" }, lines: { type: "string", default: "300000" }, src: { type: "string" } } });
const src = resolve(values.src ?? new URL("../src", import.meta.url).pathname);
const observe = (await import(join(src, "observe/index.ts"))) as typeof import("../src/observe/index.ts");
const log = observe.createLogger({ level: "info" }).child({ part: "edge" });
const dir = values.to === "file" ? await mkdtemp(join(tmpdir(), "moat-log-cost-")) : undefined;
const file = dir === undefined ? undefined : await observe.openAccessFile({ path: join(dir, "access.log"), rotateBytes: 1024 ** 3, frequency: "daily", keep: 2 }, undefined);
const access = observe.createAccessLog(log, file?.destination);
const FIELDS =
  ',"requestId":"k3Jq9xZ0aB7c-1f","snapshot":1,"method":"GET","path":"/hit","http":"1.1","status":200,"ms":0.4,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","ttfbMs":0.3,"bytesIn":0,"bytesOut":1024,"client":"127.0.0.1","tlsVersion":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384","distribution":"bench","behavior":"*","cache":"hit","tier":"memory"';
const total = Number(values.lines);
const PER_TURN = 40;

function turns(write: boolean): Promise<NodeJS.CpuUsage> {
  const start = process.cpuUsage();
  let done = 0;
  return new Promise((resolveTurns) => {
    const turn = () => {
      if (write) for (let index = 0; index < PER_TURN; index++) access.writeFields(FIELDS);
      done += PER_TURN;
      if (done >= total) resolveTurns(process.cpuUsage(start));
      else setImmediate(turn);
    };
    turn();
  });
}

const lines = await turns(true);
const loop = await turns(false);
await file?.close();
if (dir !== undefined) await rm(dir, { recursive: true, force: true });
const perLine = (us: number) => Math.round((us / total) * 100) / 100;
process.stderr.write(`${JSON.stringify({ to: values.to, lines: total, cpuUsPerLine: perLine(lines.user + lines.system - loop.user - loop.system), userUs: perLine(lines.user - loop.user), systemUs: perLine(lines.system - loop.system) })}\n`);
