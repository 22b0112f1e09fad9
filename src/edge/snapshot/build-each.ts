// Builds a snapshot's distributions a few at a time: their file reads, stored-certificate reads and issuances wait on disk, not on each other.

/**
 * Distributions built at once. Enough to keep libuv's four threads busy with reads and fsyncs while the
 * main thread parses; few enough that a failing config stops early and memory stays flat.
 */
export const BUILD_CONCURRENCY = 16;

/**
 * `build(item, index)` for each item, at most `limit` at a time, results in item order. On failure no new item
 * starts, those under way finish, and the error of the earliest failed item is thrown: every item before it was
 * started and succeeded, so the error is the one a build one at a time would have thrown.
 * @example
 * const runtimes = await buildEach(config.distributions, BUILD_CONCURRENCY, (distribution, index) => buildDistribution(distribution, index));
 */
export async function buildEach<T, R>(items: readonly T[], limit: number, build: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const failures: Array<{ index: number; error: unknown }> = [];
  let next = 0;
  const lane = async () => {
    while (failures.length === 0 && next < items.length) {
      const index = next++;
      try {
        results[index] = await build(items[index]!, index);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failures.length > 0) throw failures.reduce((earliest, failure) => (failure.index < earliest.index ? failure : earliest)).error;
  return results;
}
