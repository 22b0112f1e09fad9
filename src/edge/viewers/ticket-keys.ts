// TLS session ticket keys that outlive one process: under workers the primary makes them, so a session a viewer resumes on any worker was issued by any other.
import { randomBytes } from "node:crypto";

/** What `tls.Server.setTicketKeys` takes: 16 bytes of name, 16 of HMAC secret, 16 of AES key. */
const TICKET_KEYS_BYTES = 48;

/**
 * New keys: sessions issued under the old ones resume nowhere (a revoked certificate, a changed viewer policy).
 * @example
 * server.setTicketKeys(createTicketKeys());
 */
export function createTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

/** Keys that came over IPC (a structured clone may arrive as a plain Uint8Array). */
export function ticketKeysFrom(bytes: Uint8Array): Buffer {
  if (bytes.byteLength !== TICKET_KEYS_BYTES) throw new Error(`bug: session ticket keys are ${TICKET_KEYS_BYTES} bytes, got ${bytes.byteLength}`);
  return Buffer.from(bytes);
}
