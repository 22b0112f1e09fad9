// Lists shown a page at a time: 50 rows a page, which rows a page holds, and groups cut into pages whole.

export const PAGE_SIZE = 50;

/** `rows 51–100` (of `total` when known). */
export function describeRows(page: number, count: number, total?: number): string {
  if (count === 0) return "no rows";
  const first = page * PAGE_SIZE + 1;
  return `rows ${first}–${first + count - 1}${total === undefined ? "" : ` of ${total}`}`;
}

/**
 * Groups cut into pages of at most `maxRows` rows in all, never splitting a group (one larger than `maxRows` is a page
 * of its own): a certificate's generations stay on one timeline.
 * @example
 * pageGroups([{ rows: 30 }, { rows: 30 }], (group) => group.rows, 50) // [[{ rows: 30 }], [{ rows: 30 }]]
 */
export function pageGroups<T>(groups: readonly T[], rowsOf: (group: T) => number, maxRows: number = PAGE_SIZE): T[][] {
  const pages: T[][] = [];
  let current: T[] = [];
  let rows = 0;
  for (const group of groups) {
    const size = rowsOf(group);
    if (current.length > 0 && rows + size > maxRows) {
      pages.push(current);
      current = [];
      rows = 0;
    }
    current.push(group);
    rows += size;
  }
  if (current.length > 0) pages.push(current);
  return pages;
}
