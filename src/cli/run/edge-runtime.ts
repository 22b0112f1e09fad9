// The Node flags and glibc malloc settings the edge runs with: one definition for package.json's scripts, packaging/, the bench and the workers a primary forks.
//
// Why (measured with `npm run bench`, one worker, 2-core VM, Node 24): RSS went 141 MB idle → 336 MB after load
// and stayed there. Two causes, neither a leak:
// - V8's young generation. Under a high allocation rate V8 grows the semi-spaces up to 64 MB each (the young
//   generation is three of them) and keeps them. Short-lived per-request garbage does not need that room:
//   --max-semi-space-size=8 caps it, at a scavenge every 8 MB instead of every 64 MB (no change in CPU per request
//   the profile could see). It must be on node's command line: v8.setFlagsFromString() after start leaves the
//   already-sized new space as it is.
// - glibc malloc. OpenSSL's and Node's native buffers are allocated from many threads (libuv pool, V8's platform
//   workers), each of which gets an arena of its own (up to 8 per core), and glibc raises its mmap threshold as
//   large buffers are freed, so 1 MiB bodies then land in those arenas and stay as fragments. Two arenas, a fixed
//   128 KiB mmap threshold (larger buffers are mmapped and go back to the kernel when freed) and trimming the heap
//   top past 128 KiB keep what was freed from staying resident.
// Together (with the bench running dist/): 141 / 336 / 336 MB → 115 / 146 / 146 MB idle / after load / after a rest (docs/BENCHMARKS.md, "Memory").
// malloc reads its environment once, when the process starts: a process cannot set it for itself, only for the
// processes it starts (which is why the cluster primary passes it to its workers).

export const EDGE_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

export const EDGE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/** The primary's exec arguments plus each edge flag it lacks (an operator's own --max-semi-space-size wins). */
export function withEdgeNodeFlags(execArgv: readonly string[]): string[] {
  const nameOf = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");
  const missing = EDGE_NODE_FLAGS.filter((flag) => !execArgv.some((given) => nameOf(given) === nameOf(flag)));
  return [...execArgv, ...missing];
}

/** The primary's environment plus each malloc setting it lacks (an operator's own value wins). */
export function withEdgeMallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const missing = Object.entries(EDGE_MALLOC_ENV).filter(([name]) => env[name] === undefined);
  return { ...env, ...Object.fromEntries(missing) };
}
