// Expiry warnings for imported certificates: at once for one within 30, 7 or 1 days, then at each threshold crossed while running, on mocked timers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { scheduleExpiryWarnings } from "../../../src/edge/runtime/expiry-warnings.ts";
import type { ImportedCertificateInUse } from "../../../src/edge/runtime/expiry-warnings.ts";
import { createLogger } from "../../../src/observe/index.ts";
import { createLogCapture } from "../../support/test-edge.ts";

const DAY_MS = 86_400_000;
const START = Date.UTC(2030, 0, 1);

function certificate(path: string, notAfterMs: number): ImportedCertificateInUse {
  return { path, use: "viewer-server", files: [`/etc/moat/${path}.pem`], serialHex: "0a", fingerprint256: "AB:CD", notAfter: new Date(notAfterMs) };
}

test("warns at start within a threshold, again at each threshold crossed, and not after stop", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const capture = createLogCapture();
  const log = createLogger({ level: "info", destination: capture.stream });
  const soon = certificate("soon", START + 5 * DAY_MS);
  const later = certificate("later", START + 60 * DAY_MS);
  const warnings = scheduleExpiryWarnings({ imported: [soon, later] }, log);
  const seen = () => capture.logs.map((line) => [line.certificate, line.thresholdDays, line.daysLeft, line.level]);

  assert.deepEqual(seen(), [["soon", 7, 5, 40]], "only the certificate within a threshold warns at once");
  assert.equal(capture.logs[0]?.part, "certificates");
  assert.match(String(capture.logs[0]?.msg), /expires in 5 days \(7-day warning\)/);

  t.mock.timers.tick(4 * DAY_MS); // soon: 1 day left
  assert.deepEqual(seen().slice(1), [["soon", 1, 1, 40]]);
  t.mock.timers.tick(DAY_MS + 1); // soon: expired (valid through notAfter inclusive)
  assert.deepEqual(seen().slice(2), [["soon", 1, -1, 50]]);
  assert.match(String(capture.logs[2]?.msg), /has expired/);
  t.mock.timers.tick(25 * DAY_MS); // later: 30 days left, 30 days after start: longer than one setTimeout holds
  assert.deepEqual(seen().slice(3), [["later", 30, 30, 40]]);

  warnings.stop();
  t.mock.timers.tick(30 * DAY_MS);
  assert.equal(capture.logs.length, 4, "no timer outlives stop()");
});

test("plan() replaces the certificates watched and warns again for those within a threshold", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const capture = createLogCapture();
  const warnings = scheduleExpiryWarnings({ imported: [certificate("old", START + 2 * DAY_MS)] }, createLogger({ level: "info", destination: capture.stream }));
  warnings.plan({ imported: [certificate("new", START + 60 * DAY_MS)] });
  t.mock.timers.tick(35 * DAY_MS);
  warnings.stop();
  assert.deepEqual(capture.logs.map((line) => [line.certificate, line.thresholdDays]), [["old", 7], ["new", 30]], "the replaced certificate's timers are gone");
});

test("a certificate imported at many places warns once, counting them and naming the first few", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const capture = createLogCapture();
  const notAfter = START + 5 * DAY_MS;
  // One wildcard certificate for 50 distributions (same files, same certificate), and another certificate beside it.
  const shared = Array.from({ length: 50 }, (_, index) => ({ ...certificate(`distributions[${index}].viewerCertificate`, notAfter), files: ["/etc/moat/wild.pem", "/etc/moat/wild.key"] }));
  const alone = { ...certificate("distributions[50].viewerCertificate", notAfter), fingerprint256: "EF:01" };
  const warnings = scheduleExpiryWarnings({ imported: [...shared, alone] }, createLogger({ level: "info", destination: capture.stream }));
  assert.deepEqual(capture.logs.map((line) => [line.certificate, line.places]), [
    ["distributions[0].viewerCertificate", 50],
    ["distributions[50].viewerCertificate", undefined],
  ]);
  const alsoAt = capture.logs[0]?.alsoAt as string[];
  assert.equal(alsoAt.length, 20, "the first 20 other places, not all 49");
  assert.equal(alsoAt[0], "distributions[1].viewerCertificate");
  t.mock.timers.tick(4 * DAY_MS); // 1 day left: one line again, not 50
  assert.deepEqual(capture.logs.slice(2).map((line) => [line.certificate, line.thresholdDays, line.places]), [
    ["distributions[0].viewerCertificate", 1, 50],
    ["distributions[50].viewerCertificate", 1, undefined],
  ]);
  warnings.stop();
});

test("each warning logged is also told to onWarning (the store's audit trail, for an edge run from a store), expired included", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  const capture = createLogCapture();
  const told: [string, number, number, boolean][] = [];
  const warnings = scheduleExpiryWarnings({ imported: [certificate("soon", START + 5 * DAY_MS)] }, createLogger({ level: "info", destination: capture.stream }), {
    onWarning: (imported, warning, isExpired) => told.push([imported.path, warning.thresholdDays, warning.daysLeft, isExpired]),
  });
  t.mock.timers.tick(4 * DAY_MS); // 1 day left
  t.mock.timers.tick(DAY_MS + 1); // expired
  warnings.stop();
  assert.deepEqual(told, [["soon", 7, 5, false], ["soon", 1, 1, false], ["soon", 1, -1, true]]);
  assert.equal(told.length, capture.logs.length, "one call per line logged");
});
