// A process of a worker group writing big batches of numbered lines to the stdout it shares with its siblings (shared-pipe.test.ts).
import { createPipeTarget } from "../../src/observe/batch-targets.ts";

const [id, batches] = [process.argv[2] ?? "x", Number(process.argv[3] ?? 50)];
void process.stdout; // as the logger does: libuv sets O_NONBLOCK on a pipe
const target = createPipeTarget(1, { isShared: () => true });
let n = 0;
for (let b = 0; b < batches; b++) {
  const lines: string[] = [];
  let bytes = 0;
  while (bytes < 64 * 1024) {
    // Lengths from 60 to about 1,000 bytes, so line ends fall anywhere against 4 KiB.
    const line = `${id} ${n} ${"x".repeat(40 + ((n * 7919) % 960))} end\n`;
    lines.push(line);
    bytes += line.length;
    n++;
  }
  target.write(Buffer.from(lines.join("")), lines.length);
}
target.flushSync(undefined, 0);
process.stderr.write(`${n}\n`);
