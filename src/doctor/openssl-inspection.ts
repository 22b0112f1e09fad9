// What an origin says in its handshake that Node does not expose: whether it sends a CertificateRequest and which CA names it lists, and its chain even when the chain fails verification. Read from `openssl s_client`, which only looks: it sends no request.
import { spawn } from "node:child_process";
import { isIP } from "node:net";
import type { X509Certificate } from "node:crypto";
import { certificatesOfPem } from "./certificate-facts.ts";

export interface HandshakeInspection {
  /** The certificates the origin sent, leaf first (empty when the handshake got no Certificate message). */
  chain: X509Certificate[];
  /** Whether the origin sent a CertificateRequest (asked for a client certificate). */
  isClientCertRequested: boolean;
  /** The certificate_authorities of the CertificateRequest, as OpenSSL prints them ("CN = Moat Root CA, O = Moat"). */
  acceptedCaNames: string[];
  /** The protocol and cipher OpenSSL negotiated, when it did ("TLSv1.2", "ECDHE-RSA-AES128-SHA"). */
  protocol: string | null;
  cipher: string | null;
  /** The alert the origin sent, if any ("handshake failure"). */
  alert: string | null;
}

export type InspectionResult = { ok: true; inspection: HandshakeInspection } | { ok: false; reason: string };

/**
 * Runs `openssl s_client -showcerts -msg` against host:port with the server name, closing its input at once so it
 * ends after the handshake; killed at the deadline.
 * @example
 * const result = await inspectHandshake({ host: "127.0.0.1", port: 9443, serverName: "api.internal", timeoutMs: 5000 });
 */
export function inspectHandshake(target: { host: string; port: number; serverName: string; timeoutMs: number; openssl?: string }): Promise<InspectionResult> {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  // RFC 6066 §3: no IP address as SNI, as the edge's connector does.
  const sni = isIP(target.serverName) ? ["-noservername"] : ["-servername", target.serverName];
  const args = ["s_client", "-connect", `${host}:${target.port}`, ...sni, "-showcerts", "-msg"];
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(target.openssl ?? "openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      resolve({ ok: false, reason: `cannot run openssl: ${(error as Error).message}` });
      return;
    }
    const out: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => out.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), target.timeoutMs);
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: error.code === "ENOENT" ? "openssl is not installed (apt-get install openssl)" : `cannot run openssl: ${error.message}` });
    });
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") return resolve({ ok: false, reason: `openssl s_client did not finish within ${target.timeoutMs} ms` });
      resolve({ ok: true, inspection: parseSClient(Buffer.concat(out).toString("utf8")) });
    });
    child.stdin.end();
  });
}

/** Reads what s_client printed; exported for its own test. */
export function parseSClient(text: string): HandshakeInspection {
  const lines = text.split("\n");
  // `-msg` prints each handshake message received as "<<< TLS 1.3, Handshake [length 0067], CertificateRequest".
  const isClientCertRequested = lines.some((line) => /^<<< .*Handshake.*CertificateRequest\s*$/.test(line));
  const acceptedCaNames: string[] = [];
  const start = lines.findIndex((line) => line.startsWith("Acceptable client certificate CA names"));
  if (start !== -1) {
    for (const line of lines.slice(start + 1)) {
      if (line === "" || line.startsWith("---") || /^(Client Certificate Types|Requested Signature Algorithms|Shared Requested)/.test(line)) break;
      acceptedCaNames.push(line.trim());
    }
  }
  const protocol = /^\s*Protocol\s*:\s*(\S+)/m.exec(text)?.[1] ?? /^New, (TLSv[\d.]+), Cipher is/m.exec(text)?.[1] ?? null;
  const cipherMatch = /^New, \S+, Cipher is (\S+)/m.exec(text)?.[1] ?? /^\s*Cipher\s*:\s*(\S+)/m.exec(text)?.[1] ?? null;
  const alert = /^<<< .*Alert.*fatal (\S+)/m.exec(text)?.[1]?.replaceAll("_", " ") ?? /alert ([a-z ]+):/.exec(text)?.[1] ?? null;
  let chain: X509Certificate[] = [];
  try {
    chain = certificatesOfPem(text, "openssl s_client output");
  } catch {
    chain = [];
  }
  return { chain, isClientCertRequested, acceptedCaNames, protocol: protocol === "(NONE)" ? null : protocol, cipher: cipherMatch === "(NONE)" || cipherMatch === "0000" ? null : cipherMatch, alert };
}
