// The file watch: a replaced file is seen through the directory watch, a change the watch never reported is seen by the poll, and a removed directory does not end the process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { watchFiles } from "../src/file-watch.ts";
import type { FileWatchOptions } from "../src/file-watch.ts";
import { within } from "./support/mtls-viewer.ts";

function nextChange(options: Omit<FileWatchOptions, "onChange">): { changed: Promise<string[]>; stop(): void } {
  let resolveChange!: (files: string[]) => void;
  const changed = new Promise<string[]>((resolve) => (resolveChange = resolve));
  const watch = watchFiles({ ...options, onChange: (files) => resolveChange(files) });
  return { changed, stop: () => watch.stop() };
}

test("a file replaced by a rename is reported once, by name, among the files watched", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-watch-"));
  try {
    const watched = join(dir, "revoked.json");
    await writeFile(watched, "[]");
    const watch = nextChange({ files: [watched, join(dir, "other.pem")], pollMs: 60_000 });
    // Let the first signatures be taken.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(join(dir, "unrelated.txt"), "x");
    await writeFile(join(dir, "revoked.json.tmp"), '["01"]');
    await rename(join(dir, "revoked.json.tmp"), watched);
    assert.deepEqual(await within(watch.changed, "the change to be reported"), [watched]);
    watch.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a file named several times is watched once: one stat per poll, and named once when it changes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-watch-"));
  try {
    const watched = join(dir, "shared.pem");
    await writeFile(watched, "one");
    // The same file under three spellings, as many distributions importing one certificate name it.
    const watch = nextChange({ files: [watched, join(dir, ".", "shared.pem"), watched], pollMs: 60_000 });
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await writeFile(join(dir, "shared.pem.tmp"), "two");
      await rename(join(dir, "shared.pem.tmp"), watched);
      assert.deepEqual(await within(watch.changed, "the change to be reported"), [watched]);
    } finally {
      watch.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a change the directory watch did not report is found by the poll", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-watch-"));
  try {
    // A file in a directory that does not exist yet cannot be watched: only the poll can see it appear.
    const later = join(dir, "later", "bundle.pem");
    const errors: string[] = [];
    const watch = nextChange({ files: [later], pollMs: 100, onWatchError: (directory) => errors.push(directory) });
    assert.deepEqual(errors, [join(dir, "later")]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await mkdir(join(dir, "later"));
    await writeFile(later, "pem");
    assert.deepEqual(await within(watch.changed, "the poll to see the new file"), [later]);
    watch.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a watched directory that is removed is told through onWatchError, not thrown", async () => {
  const dir = await mkdtemp(join(tmpdir(), "moat-watch-"));
  const gone = join(dir, "gone");
  await mkdir(gone);
  const watch = watchFiles({ files: [join(gone, "a.pem")], pollMs: 60_000, onChange() {}, onWatchError() {} });
  await rm(gone, { recursive: true, force: true });
  // The process is still here if no 'error' went unhandled.
  await new Promise((resolve) => setTimeout(resolve, 100));
  watch.stop();
  await rm(dir, { recursive: true, force: true });
});
