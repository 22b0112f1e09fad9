// `node bench/scale/fleet-store.ts [N]`: a SQLite store made by `moat apply` of N distributions (default 10,000), and what a fleet pays for it: bytes per row and per document, read, validation and write times, and one edge's certificate records synced.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createBenchPki } from "../compare/bench-pki.ts";
import { validateStoredDocument } from "../../src/config/index.ts";
import { openStore, SQLITE_STORE_FILE } from "../../src/store/index.ts";
import type { CertificateEntry } from "../../src/store/index.ts";

/** Every 4th distribution verifies viewers against a trust store, as in `npm run bench:start`. */
const VERIFYING_EVERY = 4;
/** Each step (apply, read, put) at most this long: the store at 10,000 takes seconds, not minutes. */
const STEP_TIMEOUT_MS = 600_000;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const startedAt = performance.now();
  const value = await work();
  return { value, ms: performance.now() - startedAt };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  if (!Number.isInteger(count) || count < 1) throw new Error(`the distribution count must be a whole number of at least 1, not ${process.argv[2]}`);
  const dir = await mkdtemp(join(tmpdir(), "moat-fleet-store-"));
  try {
    const pki = await createBenchPki(dir, { viewerNames: ["*.scale.test"] });
    const config = {
      trustStores: { partners: { caBundle: pki.caBundle } },
      distributions: Array.from({ length: count }, (_, index) => ({
        id: `d${index}`,
        aliases: [`d${index}.scale.test`],
        viewerCertificate: { cert: pki.viewerCert, key: pki.viewerKey },
        ...(index % VERIFYING_EVERY === 0 ? { viewerMtls: { mode: "optional", trustStore: "partners" } } : {}),
        origins: [{ id: "origin", url: `https://origin-${index}.internal:8443`, mtls: { clientCertificate: { cert: pki.clientCert, key: pki.clientKey } } }],
      })),
    };
    const configFile = join(dir, "moat.json");
    await writeFile(configFile, JSON.stringify(config));
    const storeDir = join(dir, "store");
    await mkdir(storeDir);
    const apply = await timed(async () =>
      spawnSync(process.execPath, ["src/cli/main.ts", "apply", "-f", configFile, "--store", `sqlite:${storeDir}`], { encoding: "utf8", timeout: STEP_TIMEOUT_MS }),
    );
    if (apply.value.status !== 0) throw new Error(`moat apply failed: ${apply.value.stderr}`);
    const appliedFileBytes = (await stat(join(storeDir, SQLITE_STORE_FILE))).size;

    const store = await openStore({ address: `sqlite:${storeDir}`, validate: validateStoredDocument });
    const reads: number[] = [];
    let documentBytes = 0;
    for (let run = 0; run < 3; run++) {
      const read = await timed(() => store.read());
      reads.push(read.ms);
      documentBytes = Buffer.byteLength(JSON.stringify(read.value.document));
    }
    const read = await store.read();
    const validation = await timed(async () => validateStoredDocument(read.document));
    // One distribution changed: the write takes the lock, reads every row and validates the whole document again.
    const first = read.resources.find((resource) => resource.kind === "distribution")!;
    const put = await timed(() => store.put("distribution", first.name, { ...(first.document as object), aliases: [`${first.name}.scale.test`, `www.${first.name}.scale.test`] }, { actor: "bench" }));
    // One edge's certificate records with every distribution issued: a viewer certificate each and a client certificate per origin.
    const leafPem = (await readFile(pki.clientCert, "utf8")).split(/(?<=-----END CERTIFICATE-----\n?)/)[0]!;
    const leaf = new X509Certificate(leafPem);
    const hex = (value: number, bytes: number) => value.toString(16).padStart(bytes * 2, "0");
    const entries: CertificateEntry[] = read.resources
      .filter((resource) => resource.kind === "distribution")
      .flatMap((resource, index) =>
        (["viewer-server", "origin-client"] as const).map((use, slot) => {
          const serial = hex(index * 2 + slot + 1, 16);
          return {
            // A real fingerprint's length (32 bytes, colon hex), unique per row.
            fingerprint256: (serial + serial).toUpperCase().match(/../g)!.join(":"),
            serialHex: serial,
            use,
            name: use === "viewer-server" ? `viewer-${resource.name}` : `${resource.name}/origin`,
            source: "issued" as const,
            recordedState: "active" as const,
            subject: leaf.subject,
            issuer: leaf.issuer,
            sans: [`DNS:${resource.name}.scale.test`, `URI:spiffe://moat/distribution/${resource.name}`],
            certificatePem: leafPem,
            notBefore: new Date(leaf.validFrom),
            notAfter: new Date(leaf.validTo),
          };
        }),
      );
    const firstSync = await timed(() => store.certificates.sync("edge-1", entries, { now: new Date() }));
    const againSync = await timed(() => store.certificates.sync("edge-1", entries, { now: new Date() }));
    await store.close();

    const database = new DatabaseSync(join(storeDir, SQLITE_STORE_FILE), { readOnly: true });
    const one = (query: string) => database.prepare(query).get() as Record<string, number>;
    const distributionRows = one("select count(*) as rows, sum(length(document)) as bytes, min(length(document)) as min, max(length(document)) as max from distributions");
    const certificateRows = one("select count(*) as rows, sum(length(fingerprint256) + length(serial_hex) + length(edge) + length(use) + length(name) + length(source) + length(state) + length(subject) + length(issuer) + length(sans) + length(certificate_pem) + length(not_before) + length(not_after) + length(updated_at)) as bytes from certificates");
    const auditRows = one("select count(*) as rows, sum(length(coalesce(before, '')) + length(coalesce(after, '')) + length(hash) + length(prev_hash) + length(actor) + length(resource)) as bytes from audit_log");
    database.close();
    const fileBytes = (await stat(join(storeDir, SQLITE_STORE_FILE))).size;


    const machine = { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, loadAverage1m: loadavg()[0] };
    process.stdout.write(
      `${JSON.stringify(
        {
          machine,
          distributions: count,
          applyMs: Math.round(apply.ms),
          readMs: reads.map(Math.round),
          validateMs: Math.round(validation.ms),
          putOneDistributionMs: Math.round(put.ms),
          documentBytes,
          distributionRows,
          auditRows,
          sqliteFileBytes: { afterApply: appliedFileBytes, withCertificates: fileBytes },
          notifyPayloadBytes: Buffer.byteLength(JSON.stringify({ kind: "revision", revision: 1_000_000 })),
          certificateLeafPemBytes: Buffer.byteLength(leafPem),
          certificateRows,
          certificateSyncMs: { first: Math.round(firstSync.ms), unchanged: Math.round(againSync.ms) },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet-store: ${(error as Error)?.stack ?? error}\n`);
  process.exitCode = 1;
});
