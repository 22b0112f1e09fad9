// A scripted origin for cache tests: each path answers as the test says, every request is counted, and the clock is shared with the edge.
import type { IncomingMessage, ServerResponse } from "node:http";
import { EventEmitter } from "node:events";
import { createEphemeralCertificateAuthority } from "../../src/pki/index.ts";
import type { CertificateAuthority } from "../../src/pki/index.ts";
import { startTestOrigin } from "../support/test-origin.ts";
import type { TestOrigin } from "../support/test-origin.ts";

export interface MovableClock {
  now(): number;
  advance(ms: number): void;
}

/** Starts on a whole second, so that the origin's Date (whole seconds) matches the edge's clock. */
export function createMovableClock(): MovableClock {
  let now = Math.floor(Date.now() / 1000) * 1000;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

export type Script = (req: IncomingMessage, res: ServerResponse, count: number) => void;

export interface ScriptedOrigin {
  ca: CertificateAuthority;
  origin: TestOrigin;
  /** Requests seen per path (without query). */
  count(path: string): number;
  script(path: string, handler: Script): void;
  /** Resolves when `path` has been requested `n` times. */
  waitForCount(path: string, n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startScriptedOrigin(clock: MovableClock, existingCa?: CertificateAuthority): Promise<ScriptedOrigin> {
  const ca = existingCa ?? (await createEphemeralCertificateAuthority());
  const certificate = await ca.issueServerCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validityMs: 3_600_000 });
  const counts = new Map<string, number>();
  const scripts = new Map<string, Script>();
  const events = new EventEmitter();
  const origin = await startTestOrigin({
    certificate,
    clientCaPem: ca.bundlePem,
    handler: (req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      res.setHeader("date", new Date(clock.now()).toUTCString());
      events.emit("request", path);
      const script = scripts.get(path);
      if (!script) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("no script");
        return;
      }
      req.resume();
      script(req, res, count);
    },
  });
  return {
    ca,
    origin,
    count: (path) => counts.get(path) ?? 0,
    script: (path, handler) => void scripts.set(path, handler),
    waitForCount: (path, n) =>
      new Promise((resolve) => {
        const check = () => {
          if ((counts.get(path) ?? 0) < n) return;
          events.off("request", check);
          resolve();
        };
        events.on("request", check);
        check();
      }),
    close: () => origin.close(),
  };
}

/** A script answering 200 with these headers and body. */
export function answer(headers: Record<string, string>, body = "hello"): Script {
  return (_req, res, count) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), ...headers });
    res.end(body.replace("#", String(count)));
  };
}
