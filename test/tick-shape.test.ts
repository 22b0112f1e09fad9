// Node's tick objects keep their shape through a collection run while idle once one is held: V8's own print of nextTick's feedback, in a child with natives syntax.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

const MODULES = {
  tickShape: new URL("../src/tick-shape.ts", import.meta.url).href,
  idleMemory: new URL("../src/edge/runtime/idle-memory.ts", import.meta.url).href,
};

// Ticks, a memory-reducing collection with every tick run (as the edge's idle release, or V8's memory reducer, runs
// it), ticks again, then nextTick's feedback, whose computed-key literal slots read MONOMORPHIC or MEGAMORPHIC.
const SCRIPT = `
const { holdTickObjectShape, isTickObjectShapeHeld } = await import(${JSON.stringify(MODULES.tickShape)});
const { exposeGc } = await import(${JSON.stringify(MODULES.idleMemory)});
if (process.argv[1] === "held") holdTickObjectShape();
// Not on stdout: V8 prints there through C's stdio, which loses what a full pipe refuses once Node has made it non-blocking.
process.stderr.write("held: " + isTickObjectShapeHeld() + "\\n");
const gc = exposeGc({ debug() {} });
const noop = () => {};
const ticks = (n) => new Promise((done) => {
  let sent = 0;
  const step = () => { for (let i = 0; i < 1000; i++) process.nextTick(noop); sent += 1000; setImmediate(sent < n ? step : done); };
  step();
});
await ticks(5000);
await new Promise((resolve) => setTimeout(resolve, 5));
gc({ type: "major", flavor: "last-resort" });
await ticks(5000);
%DebugPrint(process.nextTick);
`;

async function nextTickLiteralFeedback(variant: "held" | "bare"): Promise<{ isHeld: boolean; slots: string[] }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", SCRIPT, variant], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  return { isHeld: stderr.includes("held: true"), slots: [...stdout.matchAll(/slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1]!) };
}

test("with a tick object held, an idle collection leaves nextTick's literal monomorphic; without, it turns megamorphic for good", async () => {
  const bare = await nextTickLiteralFeedback("bare");
  // Node 24's tick literal has five computed-key slots; if V8 prints them otherwise, this says so first.
  assert.ok(bare.slots.length > 0, "V8 printed nextTick's DefineKeyedOwnPropertyInLiteral slots");
  assert.equal(bare.isHeld, false);
  assert.ok(bare.slots.includes("MEGAMORPHIC"), `with no tick alive the collection turns them megamorphic (what holding one prevents): ${bare.slots.join(", ")}`);
  const held = await nextTickLiteralFeedback("held");
  assert.equal(held.isHeld, true, "the async hook handed over a tick object");
  assert.ok(held.slots.length > 0 && held.slots.every((state) => state === "MONOMORPHIC"), `with one held every slot stays monomorphic: ${held.slots.join(", ")}`);
});
