// Measures an edge restart's disk tier: how long until it opens (what the edge waits for before it listens) and until its index is fully loaded in the background.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDiskTier } from "../src/cache/disk-tier.ts";
import type { EntryMeta } from "../src/cache/stored-entry.ts";

export interface DiskRestartResult {
  entries: number;
  /** Until openDiskTier returns: the edge listens right after. */
  openMs: number;
  /** Until the background load has every entry. */
  loadMs: number;
  loadUsPerEntry: number;
}

const ENTRIES = 5_000;
const BODY = Buffer.alloc(512, 0x61);

function metaOf(i: number, body: { bytes: number; sha256: string }): EntryMeta {
  const key = `shop\n/static/assets/${i.toString(36).padStart(8, "0")}/app.bundle.js\n\n\n\n`;
  return {
    key,
    primaryKey: key,
    status: 200,
    headers: { "content-type": "application/javascript", etag: `"${i}"`, "cache-control": "max-age=86400", date: new Date(0).toUTCString() },
    rules: { lifetimeMs: 86_400_000, isNoCache: false, mayServeStale: true, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, isReusableWithAuthorization: false },
    age: { requestTimeMs: i, responseTimeMs: i, dateMs: i, ageValueS: 0 },
    vary: null,
    bodyBytes: body.bytes,
    bodySha256: body.sha256,
    invalidationMark: 0,
  };
}

/** Fills a disk tier with ENTRIES small entries, then times opening it again. Bounded: a few seconds. */
export async function measureDiskRestart(): Promise<DiskRestartResult> {
  const dir = await mkdtemp(join(tmpdir(), "moat-bench-disk-"));
  try {
    const disk = await openDiskTier({ dir, maxBytes: 2 ** 30 });
    for (let i = 0; i < ENTRIES; i++) {
      const writer = disk.createWriter()!;
      await writer.write(BODY);
      await writer.commit((body) => metaOf(i, body));
    }
    await disk.close();
    const startedAt = performance.now();
    const reopened = await openDiskTier({ dir, maxBytes: 2 ** 30 });
    const openMs = performance.now() - startedAt;
    await reopened.loaded;
    const loadMs = performance.now() - startedAt;
    await reopened.close();
    if (reopened.size !== ENTRIES) throw new Error(`reopened ${reopened.size} entries, wrote ${ENTRIES}`);
    return { entries: ENTRIES, openMs: Math.round(openMs * 10) / 10, loadMs: Math.round(loadMs), loadUsPerEntry: Math.round((loadMs * 1000) / ENTRIES) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatDiskRestart(result: DiskRestartResult): string {
  return `disk tier restart: open in ${result.openMs} ms (then the edge listens); ${result.entries.toLocaleString("en")} entries loaded in the background in ${result.loadMs} ms (${result.loadUsPerEntry} µs/entry)\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(formatDiskRestart(await measureDiskRestart()));
