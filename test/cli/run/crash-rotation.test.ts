// Kill -9 during rotation: whenever `moat start` dies, certs/ holds whole certificates and a restart serves traffic.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCertificateAuthority, renewalTime } from "../../../src/pki/index.ts";
import type { CertificateAuthority } from "../../../src/pki/index.ts";
import { readCertStore } from "../../support/cert-store-files.ts";
import type { StoredCertificate, StoredSlot } from "../../support/cert-store-files.ts";
import { createTestMasterKey } from "../../support/master-key.ts";
import type { TestMasterKey } from "../../support/master-key.ts";
import { startTestOrigin } from "../../support/test-origin.ts";
import type { TestOrigin } from "../../support/test-origin.ts";
import { viewerRequestWithSni } from "../../support/viewer-client.ts";
import { startMoat } from "../moat-process.ts";
import type { LogLine, RunningMoat } from "../moat-process.ts";

const ALIAS = "crash.test";
const RENEW_AT_FRACTION = 0.5;
const RESTARTS = 8;
// A failure names its seed; `MOAT_CRASH_SEED=<seed> node --test test/cli/run/crash-rotation.test.ts` replays the same kill plan.
const seed = Number(process.env.MOAT_CRASH_SEED ?? randomInt(2 ** 31));
assert.ok(Number.isSafeInteger(seed), `MOAT_CRASH_SEED must be an integer (got ${process.env.MOAT_CRASH_SEED})`);

/** mulberry32: a small seeded generator, so a kill plan can be replayed. */
function seededRandom(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type KillMode = "after-listening" | "after-snapshot-applied" | "in-renewal-window";
interface KillPlan {
  mode: KillMode;
  /** after-listening: from `edge listening`; after-snapshot-applied: from the next renewal's log line; in-renewal-window: from the planned renewal. */
  delayMs: number;
}

function killPlans(random: () => number): KillPlan[] {
  const modes: KillMode[] = ["in-renewal-window", "after-listening", "after-snapshot-applied"];
  return Array.from({ length: RESTARTS - 1 }, (_, i) => {
    const mode = modes[i % modes.length] as KillMode;
    // The renewal window: a rebuild (new keys sealed and written, the origin probed, pointers switched) takes 40–150 ms here; see buildMs.
    const delayMs = mode === "after-listening" ? Math.floor(random() * 1500) : mode === "in-renewal-window" ? Math.floor(random() * 150) : Math.floor(random() * 20);
    return { mode, delayMs };
  });
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A bounded wait for a log line, so a renewal that never comes fails with the process's log rather than a test timeout. */
async function waitForLineWithin(moat: RunningMoat, what: string, predicate: (line: LogLine) => boolean, limitMs: number): Promise<LogLine> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([moat.waitForLine(what, predicate), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last log lines and stderr of a process, for assertion messages. */
function tail(moat: RunningMoat | undefined, label: string): string {
  if (!moat) return "";
  const lines = moat.lines.slice(-10).map((line) => `  ${JSON.stringify(line)}`);
  return `\n--- ${label}: last ${lines.length} log lines ---\n${lines.join("\n")}\n--- stderr ---\n${moat.stderr().slice(-2000)}`;
}

function originClientSerial(line: LogLine): string | undefined {
  const clients = line.originClients as Array<{ identity: string }> | undefined;
  return clients?.[0]?.identity.match(/\(serial ([0-9a-f]+)\)/)?.[1];
}

/**
 * What a restart must load from a slot: the active certificate while it is fresh, else the
 * waiting `next` while that is, else a new one. Undefined when the store's clock reading,
 * somewhere between `buildAfter` and `buildBefore`, decides.
 */
function expectedAtRestart(slot: StoredSlot, buildAfter: number, buildBefore: number): { serial: string; why: string } | { fresh: true; why: string } | undefined {
  const renewsAt = (c: StoredCertificate) => renewalTime(c, RENEW_AT_FRACTION).getTime();
  const { active, next } = slot;
  if (renewsAt(active) > buildBefore) return { serial: active.serialHex, why: "the active certificate was still fresh" };
  if (renewsAt(active) > buildAfter) return undefined;
  const pending = next && next.serialHex !== active.serialHex ? next : null;
  if (pending && renewsAt(pending) > buildBefore) return { serial: pending.serialHex, why: "the active certificate was due and 'next' waited, fresh" };
  if (pending && renewsAt(pending) > buildAfter) return undefined;
  return { fresh: true, why: "the active certificate (and any 'next') was due for renewal" };
}

describe("moat start killed with SIGKILL during rotation", () => {
  let dir: string;
  let key: TestMasterKey;
  let ca: CertificateAuthority;
  let origin: TestOrigin;
  let running: RunningMoat | undefined;
  const configFile = () => join(dir, "moat.yaml");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "moat-crash-rotation-"));
    key = await createTestMasterKey();
    ca = await initCertificateAuthority({ dataDir: join(dir, "data"), masterKey: key.masterKey });
    const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], validityMs: 3_600_000 });
    origin = await startTestOrigin({ certificate, clientCaPem: ca.bundlePem });
    // Three-second certificates renewed at half their life: the edge rotates one or the other every few hundred ms.
    await writeFile(
      configFile(),
      `dataDir: ./data
workers: 1
pki: { clientCertValidity: 3s, serverCertValidity: 3s, renewAtFraction: ${RENEW_AT_FRACTION} }
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: crash
    aliases: [${ALIAS}]
    origins:
      - { id: app, url: "${origin.url}" }
`,
    );
  });

  after(async () => {
    await running?.kill();
    await origin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(`${RESTARTS} starts, each but the last ended by kill -9 at a varied point of rotation; every restart serves traffic`, { timeout: 90_000 }, async (t) => {
    const plans = killPlans(seededRandom(seed));
    t.diagnostic(`seed ${seed} (replay: MOAT_CRASH_SEED=${seed}); plans ${JSON.stringify(plans)}`);
    let killed: RunningMoat | undefined;
    let onDisk: StoredSlot[] | undefined;
    for (let i = 0; i < RESTARTS; i++) {
      const plan = plans[i];
      const context = () =>
        `seed ${seed}, start ${i}, previous kill ${JSON.stringify(plans[i - 1] ?? null)}${tail(killed, "killed process")}${running === killed ? "" : tail(running, "this process")}`;
      running = startMoat(["start", "--config", configFile()], { cwd: dir, env: key.env });
      const listening = await running.waitForLine("the edge to listen", (l) => l.msg === "edge listening").catch((error: Error) => assert.fail(`${error.message}\n${context()}`));
      const listenedAt = Date.now();
      if (onDisk) t.diagnostic(`start ${i}: ${checkRestartLoaded(onDisk, running.lines, context)}`);
      await assertTrafficFlows(Number(listening.httpsPort), `/start-${i}`, context);

      if (!plan) {
        running.child.kill("SIGTERM");
        // Ended *by* SIGTERM means no handler was installed yet: the edge said "listening" before `moat start` finished starting.
        assert.deepEqual(await running.exited, { code: 0, signal: null }, `SIGTERM should drain and exit 0\n${context()}`);
        running = undefined;
        break;
      }
      const landed = await killPer(plan, running, listening, listenedAt).catch((error: Error) => assert.fail(`${error.message}\n${context()}`));
      killed = running;
      assert.equal((await killed.exited).signal, "SIGKILL", `start ${i} ended on its own before the kill\n${context()}`);
      onDisk = await readCertStore(join(dir, "data"), { intermediatePem: ca.intermediatePem, masterKey: key.masterKey }).catch((error: Error) =>
        assert.fail(`after kill ${i} (${JSON.stringify(plan)}, ${landed}) certs/ is not sane: ${error.message}\n${context()}`),
      );
      assert.deepEqual(onDisk.map((s) => s.slot), ["origin-client/crash/app", "server/viewer-crash"], context());
      t.diagnostic(`kill ${i}: ${JSON.stringify(plan)}, ${landed}; ${onDisk.map(describeSlot).join("; ")}`);
    }
  });

  /** A fresh connection, SNI and Host the alias, the edge's certificate checked against the CA: the origin answers. */
  async function assertTrafficFlows(port: number, path: string, context: () => string): Promise<void> {
    const res = await viewerRequestWithSni(port, { caPem: ca.bundlePem, servername: ALIAS, host: ALIAS, path }).catch((error: Error) =>
      assert.fail(`request ${path} failed: ${error.message}\n${context()}`),
    );
    assert.equal(res.status, 200, `${path}: ${res.body}\n${context()}`);
    assert.equal(res.body, `GET ${path} 0`, context());
  }
});

/** Kills `moat` as `plan` says; resolves with where in its log the kill landed. */
async function killPer(plan: KillPlan, moat: RunningMoat, listening: LogLine, listenedAt: number): Promise<string> {
  if (plan.mode === "after-listening") {
    await delay(listenedAt + plan.delayMs - Date.now());
  } else if (plan.mode === "after-snapshot-applied") {
    // The next renewal from here, not one already logged while the request ran.
    const seen = moat.lines.length;
    await waitForLineWithin(moat, "a renewal (snapshot applied)", (l) => l.msg === "snapshot applied" && moat.lines.indexOf(l) >= seen, 5_000);
    await delay(plan.delayMs);
  } else {
    // The renewal timer fires at the planned time, but never sooner than 250 ms after it was armed.
    const plannedAt = Math.max(Date.parse(String(listening.renewAt)), Date.parse(String(listening.time)) + 250);
    await delay(plannedAt + plan.delayMs - Date.now());
  }
  moat.child.kill("SIGKILL");
  const last = moat.lines.at(-1);
  return `last line seen "${String(last?.msg)}" (snapshot ${String(last?.snapshot ?? "-")}), ${moat.lines.filter((l) => l.msg === "snapshot applied").length} renewals applied`;
}

/**
 * The restart loaded what the store promises: the old certificate if still fresh, the waiting one, or a new one;
 * never a fresh one discarded as unreadable. Returns what each slot did, for the test's diagnostics.
 */
function checkRestartLoaded(onDisk: StoredSlot[], lines: readonly LogLine[], context: () => string): string {
  const listening = lines.find((l) => l.msg === "edge listening") as LogLine;
  // The store reads its clock after the master key is loaded and before the edge listens.
  const keyLoaded = lines.find((l) => l.msg === "master key loaded");
  assert.ok(keyLoaded, `no "master key loaded" line before "edge listening"\n${context()}`);
  const buildAfter = Date.parse(String(keyLoaded.time));
  const buildBefore = Date.parse(String(listening.time));
  const distributions = listening.distributions as Array<{ viewerCertificateSerial: string }>;
  const loaded: Record<string, string | undefined> = {
    "server/viewer-crash": distributions[0]?.viewerCertificateSerial,
    "origin-client/crash/app": originClientSerial(listening),
  };
  const outcomes: string[] = [];
  for (const slot of onDisk) {
    const serial = loaded[slot.slot];
    assert.ok(serial, `edge listening names no certificate for ${slot.slot}\n${context()}`);
    const expected = expectedAtRestart(slot, buildAfter, buildBefore);
    const message = `${slot.slot}: ${expected?.why} (${describeSlot(slot)}), but the restart loaded ${serial}\n${context()}`;
    if (expected && "serial" in expected) assert.equal(serial, expected.serial, message);
    else if (expected) assert.ok(serial !== slot.active.serialHex && serial !== slot.next?.serialHex, message);
    const did = serial === slot.active.serialHex ? "kept active" : serial === slot.next?.serialHex ? "took next" : "issued new";
    outcomes.push(`${slot.slot} ${did}${expected ? "" : " (either was right)"}`);
  }
  return outcomes.join(", ");
}

function describeSlot(slot: StoredSlot): string {
  const extras = [
    slot.next && slot.next.serialHex !== slot.active.serialHex ? `next ${slot.next.serialHex.slice(0, 8)}` : "",
    slot.unnamedDirs.length > 1 ? `${slot.unnamedDirs.length} unnamed dirs` : "",
    slot.incompleteDirs.length ? `incomplete ${slot.incompleteDirs.map((s) => s.slice(0, 8)).join(",")}` : "",
    slot.tempFiles.length ? `temp ${slot.tempFiles.join(",")}` : "",
  ].filter(Boolean);
  return `${slot.slot} active ${slot.active.serialHex.slice(0, 8)}${extras.length ? ` [${extras.join(", ")}]` : ""}`;
}
