// "Rotate now" for issued leaves: <dataDir>/certs/rotation-requests.json names serials to replace; the edge's store treats them as due and re-issues.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateNotRotatableError } from "../errors.ts";
import { listCertificates } from "./inventory.ts";
import type { InventoryEntry } from "./inventory.ts";
import { CERT_FILE_MODE, ensurePrivateDir, writeFileAtomic } from "./key-files.ts";
import { withRevocationLock } from "./revocation-lock.ts";

export const ROTATION_REQUESTS_FILE = "rotation-requests.json";

export interface RotationRequest {
  serialHex: string;
  requestedAt: Date;
}

export function rotationRequestsPath(dataDir: string): string {
  return join(dataDir, "certs", ROTATION_REQUESTS_FILE);
}

/** The serials asked to be replaced; a missing or unreadable file asks for nothing (a request is a wish, not a safety property). */
export async function readRotationRequests(dataDir: string): Promise<RotationRequest[]> {
  const text = await readFile(rotationRequestsPath(dataDir), "utf8").catch(() => "[]");
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((entry: { serialHex?: unknown; requestedAt?: unknown }) =>
      typeof entry?.serialHex === "string" && /^[0-9a-f]{1,40}$/.test(entry.serialHex) && typeof entry.requestedAt === "string"
        ? [{ serialHex: entry.serialHex, requestedAt: new Date(entry.requestedAt) }]
        : [],
    );
  } catch {
    return [];
  }
}

/**
 * Asks for an issued leaf in use (`active`) to be replaced now: the running edge re-issues it at its next
 * build, which the file's change starts. Imported, CA, retired and revoked certificates are refused
 * (CertificateNotRotatableError); asking twice is one request. Requests for serials no longer in use are dropped.
 */
export async function requestLeafRotation(options: { dataDir: string; serialHex: string; now: Date }): Promise<{ certificate: InventoryEntry; request: RotationRequest; wasAlreadyRequested: boolean }> {
  const entries = await listCertificates({ dataDir: options.dataDir, now: options.now });
  const certificate = entries.find((entry) => entry.serialHex === options.serialHex);
  if (!certificate) throw new CertificateNotRotatableError(options.serialHex, "Moat holds no certificate with this serial", "list them with GET /certificates or `moat certs list`");
  if (certificate.source !== "issued" || (certificate.use !== "viewer-server" && certificate.use !== "origin-client")) {
    throw new CertificateNotRotatableError(
      options.serialHex,
      certificate.source === "imported" ? "it is imported: only its owner can renew it" : `it is the CA's own ${certificate.use === "root-ca" ? "root" : "intermediate"}`,
      certificate.source === "imported" ? "import a renewed certificate" : "rotate the CA with its own steps (POST /ca/renew-intermediate, the rollover steps)",
    );
  }
  if (certificate.state !== "active") {
    throw new CertificateNotRotatableError(options.serialHex, `it is ${certificate.state}, not the one in use`, "rotate the active certificate of the same name");
  }
  const inUse = new Set(entries.filter((entry) => entry.source === "issued" && entry.state === "active").map((entry) => entry.serialHex));
  await ensurePrivateDir(options.dataDir, "certs");
  // The revocation lock: one read-modify-write at a time, shared with the other writers of the CA's state.
  return withRevocationLock(options.dataDir, async () => {
    const current = (await readRotationRequests(options.dataDir)).filter((request) => inUse.has(request.serialHex));
    const existing = current.find((request) => request.serialHex === options.serialHex);
    const request = existing ?? { serialHex: options.serialHex, requestedAt: options.now };
    const next = existing ? current : [...current, request];
    const document = next.map((entry) => ({ serialHex: entry.serialHex, requestedAt: entry.requestedAt.toISOString() }));
    await writeFileAtomic(rotationRequestsPath(options.dataDir), `${JSON.stringify(document, null, 2)}\n`, CERT_FILE_MODE);
    return { certificate, request, wasAlreadyRequested: existing !== undefined };
  });
}
