// An edge that rotates its CA by itself (autoRotate) and runs from a store activates a due root rollover only when its fleet gate lets it: held back, it keeps the old root, says whom it waits for, and is not failing.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startCaRotation } from "../../../src/edge/runtime/ca-rotation-watch.ts";
import { CaRolloverHeldBackError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { DEFAULT_CA_ROTATION_POLICY, generateMasterKey, initCertificateAuthority, prepareRootRollover, readCaGenerations } from "../../../src/pki/index.ts";
import type { CertificateAuthority, FleetGate } from "../../../src/pki/index.ts";
import { withDeadline } from "../../support/deadline.ts";
import { createLogCapture } from "../../support/test-edge.ts";

test("autoRotate with a fleet gate: a due activation held back keeps the old root and logs the edges waited for; let through, the new root issues", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moat-fleet-gate-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const masterKey = generateMasterKey();
  const initial = await initCertificateAuthority({ dataDir, masterKey });
  // Prepared an hour ago with a one-second overlap: the activation is due now.
  const rotation = { ...DEFAULT_CA_ROTATION_POLICY, rolloverOverlapMs: 1_000, autoRotate: true };
  await prepareRootRollover({ dataDir, masterKey, clock: () => new Date(Date.now() - 3_600_000), policy: { ...rotation, renewAtFraction: 2 / 3 } });
  const newRoot = new X509Certificate((await readCaGenerations(dataDir)).pending!.rootPem);

  const start = async (fleetGate: FleetGate) => {
    const capture = createLogCapture();
    let current: CertificateAuthority = initial;
    const started = await startCaRotation({
      dataDir,
      masterKey,
      rotation,
      renewAtFraction: 2 / 3,
      log: createLogger({ level: "info", destination: capture.stream }),
      current: () => current,
      fleetGate,
      onChange: async (ca) => void (current = ca),
    });
    t.after(() => started.watch.stop());
    return { ...started, capture };
  };

  const asked: string[] = [];
  const held = await start(async (root) => {
    asked.push(root.fingerprint256);
    throw new CaRolloverHeldBackError(root, [{ name: "edge-b", health: "ok", roots: [new X509Certificate(initial.rootPem).fingerprint256] }]);
  });
  assert.deepEqual(asked, [newRoot.fingerprint256]);
  assert.equal(held.ca.rootPem, initial.rootPem, "the old root still issues");
  assert.equal((await readCaGenerations(dataDir)).rollover?.phase, "prepared");
  const line = await withDeadline("the held-back line", held.capture.waitForLog((l) => l.msg === "the root rollover's activation is due but waits for edges that do not trust the new root yet"), 10_000);
  assert.deepEqual(line.holdingBack, ["edge-b"]);
  assert.equal(line.level, 40, "a warning, not an error");
  assert.equal(held.capture.logs.filter((l) => /failed/.test(String(l.msg))).length, 0, "held back is not a failure");
  await held.watch.stop();

  const letThrough = await start(async () => undefined);
  assert.equal(new X509Certificate(letThrough.ca.rootPem).fingerprint256, newRoot.fingerprint256);
  assert.equal((await readCaGenerations(dataDir)).rollover?.phase, "activated");
});
