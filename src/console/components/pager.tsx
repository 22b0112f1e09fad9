// Previous and next for a list shown a page at a time (50 rows): buttons that say what they do, disabled at either end, and where you are.
import { PAGE_SIZE } from "./paging.ts";

export { describeRows, PAGE_SIZE, pageGroups } from "./paging.ts";

export interface PagerProps {
  /** What the list is, for the navigation's name: `Distributions pages`. */
  label: string;
  /** 0-based. */
  page: number;
  /** Where this page is in the list: `rows 51–100`, `rows 51–100 of 130`. */
  position: string;
  hasNext: boolean;
  onPrevious(): void;
  onNext(): void;
}

export function Pager(props: PagerProps) {
  if (props.page === 0 && !props.hasNext) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      {/* aria-disabled, not disabled: the button pressed to reach either end keeps focus there (a disabled one would drop it). */}
      <button type="button" aria-disabled={props.page === 0} onClick={() => props.page === 0 || props.onPrevious()}>
        Previous {PAGE_SIZE}
      </button>
      <span class="meta" aria-live="polite">
        Page {props.page + 1}, {props.position}
      </span>
      <button type="button" aria-disabled={!props.hasNext} onClick={() => !props.hasNext || props.onNext()}>
        Next {PAGE_SIZE}
      </button>
    </nav>
  );
}
