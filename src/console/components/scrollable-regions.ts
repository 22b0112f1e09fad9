// Keeps a box that scrolls sideways (a wide table or timeline on a phone) reachable by keyboard: while its content overflows it is a named, focusable region, so arrow keys scroll it.
import { useEffect } from "preact/hooks";
import type { RefObject } from "preact";

/** The boxes the stylesheet lets scroll sideways. */
const SCROLLERS = ".table-wrap, .timeline-wrap";

/** What the region is: its table's caption, else the nearest heading before it. */
function regionName(box: HTMLElement): string {
  const caption = box.querySelector("caption")?.textContent?.trim();
  if (caption) return caption;
  const heading = box.closest("article, section")?.querySelector("h2, h1")?.textContent?.trim();
  const what = box.classList.contains("timeline-wrap") ? "timeline" : "table";
  return heading ? `${heading}: ${what}` : what;
}

function mark(box: HTMLElement): void {
  const scrolls = box.scrollWidth > box.clientWidth + 1;
  if (scrolls && box.getAttribute("tabindex") !== "0") {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", `${regionName(box)} (scrolls sideways)`);
  } else if (!scrolls && box.hasAttribute("tabindex")) {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
  }
}

/**
 * Marks the scrolling boxes under `root` as they appear, change or are resized: a focusable region only while it
 * overflows, so a laptop's wide screen gets no extra Tab stops (WCAG 2.1.1; axe's scrollable-region-focusable).
 */
export function useScrollableRegions(root: RefObject<HTMLElement | null>): void {
  useEffect(() => {
    const element = root.current;
    if (!element) return;
    let frame: number | undefined;
    const sizes = new ResizeObserver(() => schedule());
    const watched = new WeakSet<Element>();
    const check = () => {
      frame = undefined;
      for (const box of element.querySelectorAll<HTMLElement>(SCROLLERS)) {
        if (!watched.has(box)) {
          watched.add(box);
          sizes.observe(box);
        }
        mark(box);
      }
    };
    const schedule = () => {
      if (frame === undefined) frame = requestAnimationFrame(check);
    };
    const changes = new MutationObserver(schedule);
    changes.observe(element, { childList: true, subtree: true });
    schedule();
    return () => {
      changes.disconnect();
      sizes.disconnect();
      if (frame !== undefined) cancelAnimationFrame(frame);
    };
  }, [root]);
}
