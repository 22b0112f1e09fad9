// A raw HTTP/2 client for conformance tests: writes frames by hand on a TLS socket (ALPN h2), so a test can send what no well-behaved client would; reads only frame types and the error codes of GOAWAY and RST_STREAM.
import { once } from "node:events";
import tls from "node:tls";

/** RFC 9113 §6: the frame types a test writes or reads. */
export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, CONTINUATION: 0x9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
/** RFC 9113 §7 error codes. */
export const H2_ERROR = { NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, REFUSED_STREAM: 0x7, CANCEL: 0x8, ENHANCE_YOUR_CALM: 0xb } as const;

export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawH2 {
  socket: tls.TLSSocket;
  frames: ReceivedFrame[];
  writeFrame(type: number, flags: number, streamId: number, payload?: Buffer): void;
  /** Resolves with the first frame (already received or still to come) that matches; rejects if the connection closes first. */
  waitForFrame(predicate: (frame: ReceivedFrame) => boolean): Promise<ReceivedFrame>;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
}

/** RFC 7541 §5.1: an integer with an N-bit prefix. */
function hpackInteger(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const bytes = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** RFC 7541 §6.2.2: every field as a literal without indexing, new name, no Huffman coding. */
export function hpackBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0x00);
    for (const text of [name, value]) {
      const raw = Buffer.from(text, "latin1");
      bytes.push(...hpackInteger(raw.length, 7, 0x00), ...raw);
    }
  }
  return Buffer.from(bytes);
}

/** The error code of a GOAWAY (after its last-stream-id) or RST_STREAM payload. */
export function errorCodeOf(frame: ReceivedFrame): number {
  return frame.payload.readUInt32BE(frame.type === FRAME.GOAWAY ? 4 : 0);
}

/**
 * Connects, sends the preface and an empty SETTINGS, and acknowledges the server's SETTINGS before it resolves.
 * @example
 * const h2 = await connectRawH2({ port, caPem, servername: "shop.test" });
 * h2.writeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hpackBlock([[":method", "GET"], …]));
 */
export async function connectRawH2(options: { port: number; caPem: string; servername: string }): Promise<RawH2> {
  const socket = tls.connect({ host: "127.0.0.1", port: options.port, ca: options.caPem, servername: options.servername, ALPNProtocols: ["h2"] });
  await once(socket, "secureConnect");
  if (socket.alpnProtocol !== "h2") throw new Error(`the server chose ${String(socket.alpnProtocol)}, not h2`);
  const frames: ReceivedFrame[] = [];
  const waiters = new Set<{ predicate: (frame: ReceivedFrame) => boolean; resolve(frame: ReceivedFrame): void; reject(error: Error): void }>();
  const writeFrame = (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(streamId, 5);
    if (!socket.destroyed) socket.write(Buffer.concat([head, payload]));
  };
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
      const length = pending.readUIntBE(0, 3);
      const frame = { type: pending[3] ?? 0, flags: pending[4] ?? 0, streamId: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) };
      pending = pending.subarray(9 + length);
      frames.push(frame);
      if (frame.type === FRAME.SETTINGS && !(frame.flags & FLAG.ACK)) writeFrame(FRAME.SETTINGS, FLAG.ACK, 0);
      for (const waiter of waiters) {
        if (!waiter.predicate(frame)) continue;
        waiters.delete(waiter);
        waiter.resolve(frame);
      }
    }
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  void closed.then(() => {
    for (const waiter of waiters) waiter.reject(new Error(`the connection closed first; frames received: ${frames.map((f) => f.type).join(",")}`));
    waiters.clear();
  });
  socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  writeFrame(FRAME.SETTINGS, 0, 0);
  const waitForFrame = (predicate: (frame: ReceivedFrame) => boolean) => {
    const found = frames.find(predicate);
    if (found) return Promise.resolve(found);
    if (socket.destroyed) return Promise.reject(new Error("the connection is closed"));
    return new Promise<ReceivedFrame>((resolve, reject) => waiters.add({ predicate, resolve, reject }));
  };
  // Returns once the server's SETTINGS is acknowledged, so that no ACK of ours lands inside a test's header block.
  await waitForFrame((frame) => frame.type === FRAME.SETTINGS && !(frame.flags & FLAG.ACK));
  return { socket, frames, writeFrame, waitForFrame, closed };
}
