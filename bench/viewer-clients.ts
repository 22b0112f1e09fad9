// The bench's viewers: keep-alive HTTP/1.1 (undici), HTTP/2 sessions (node:http2), and one-request fresh connections.
import http2 from "node:http2";
import type { Readable } from "node:stream";
import tls from "node:tls";
import { Client } from "undici";
import type { BenchTarget } from "./bench-fixture.ts";

/** What a request must come back with; anything else counts as an error. */
export interface Expected {
  path: string;
  bytes: number;
}

const contexts = new WeakMap<BenchTarget, tls.SecureContext>();

// One secure context per target, built once: otherwise every fresh connection would also pay for
// parsing the CA, certificate and key, which is the load generator's cost, not a handshake's.
// TLS 1.3 only, so direct and edge runs compare the same handshake and record layer.
function connectOptions(target: BenchTarget, maxCachedSessions?: number) {
  let secureContext = contexts.get(target);
  if (!secureContext) {
    const certificate = target.clientCertificate;
    secureContext = tls.createSecureContext({
      ca: target.caPem,
      minVersion: "TLSv1.3",
      ...(certificate ? { cert: certificate.chainPem, key: certificate.keyPem } : {}),
    });
    contexts.set(target, secureContext);
  }
  return { secureContext, servername: target.servername, ...(maxCachedSessions === undefined ? {} : { maxCachedSessions }) };
}

// A stuck request fails after this instead of holding the run open: every scenario stays bounded in time.
const REQUEST_TIMEOUT_MS = 30_000;

/** One keep-alive connection (pipelining 1); undici offers only HTTP/1.1 by ALPN unless told otherwise. */
export function createH1Client(target: BenchTarget, maxCachedSessions?: number): Client {
  return new Client(`https://127.0.0.1:${target.port}`, {
    connect: connectOptions(target, maxCachedSessions),
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
}

/**
 * GET over an undici client; resolves with nothing, rejects on a wrong status or byte count.
 * @example
 * await h1Get(client, fixture.edge, { path: "/", bytes: 1024 });
 * await h1Get(client, fixture.edge, { path: "/bytes/1048576", bytes: 1048576 }, () => markFirstByte());
 */
export async function h1Get(client: Client, target: BenchTarget, expected: Expected, onFirstByte?: () => void): Promise<void> {
  const res = await client.request({ method: "GET", path: expected.path, headers: { host: target.servername } });
  const bytes = await countBytes(res.body, onFirstByte);
  check(res.statusCode, bytes, expected);
}

/**
 * A full TLS handshake per request: a new client, and no session cache, so no resumption either.
 * @example
 * await freshConnectionGet(fixture.edge, { path: "/", bytes: 1024 });
 */
export async function freshConnectionGet(target: BenchTarget, expected: Expected): Promise<void> {
  const client = createH1Client(target, 0);
  try {
    await h1Get(client, target, expected);
  } finally {
    await client.destroy();
  }
}

export function connectH2(target: BenchTarget): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${target.port}`, connectOptions(target));
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

/**
 * One GET stream on an HTTP/2 session.
 * @example
 * await h2Get(session, fixture.edge, { path: "/", bytes: 1024 });
 */
export function h2Get(session: http2.ClientHttp2Session, target: BenchTarget, expected: Expected): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": expected.path, ":authority": target.servername });
    let status = 0;
    let bytes = 0;
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
    stream.on("end", () => {
      try {
        check(status, bytes, expected);
        resolve();
      } catch (error) {
        reject(error);
      }
    });
    stream.on("error", reject);
    stream.setTimeout(REQUEST_TIMEOUT_MS, () => {
      reject(new Error(`GET ${expected.path}: no response in ${REQUEST_TIMEOUT_MS} ms`));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
}

// Counts and drops each chunk: the viewer must not be the one buffering a large body.
async function countBytes(body: Readable, onFirstByte?: () => void): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    if (bytes === 0) onFirstByte?.();
    bytes += (chunk as Buffer).length;
  }
  return bytes;
}

function check(status: number, bytes: number, expected: Expected): void {
  if (status !== 200) throw new Error(`GET ${expected.path}: status ${status}, expected 200`);
  if (bytes !== expected.bytes) throw new Error(`GET ${expected.path}: ${bytes} bytes, expected ${expected.bytes}`);
}
