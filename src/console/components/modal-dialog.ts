// A native modal <dialog> as the console's dialogs open it: shown on mount, closed on unmount with focus back where the user was, and Tab kept inside.
import type { RefObject } from "preact";
import { useEffect, useRef } from "preact/hooks";

export interface ModalDialog {
  dialog: RefObject<HTMLDialogElement | null>;
  /** True once the component is gone: a close event then is the unmount's own, not the user's. */
  isUnmounted: RefObject<boolean>;
  /** Focus back on `returnFocusTo`, else where it was when the dialog opened; if the page re-rendered that away, the page decides. */
  returnFocus(): void;
}

/**
 * Opens the dialog as a modal when the component mounts (the page behind it inert, Escape cancels) and closes it when it
 * unmounts, returning focus.
 * @example
 * const { dialog, isUnmounted, returnFocus } = useModalDialog();
 * return <dialog ref={dialog} onKeyDown={(event) => keepTabInside(dialog.current, event)}>…</dialog>;
 */
export function useModalDialog(returnFocusTo?: RefObject<HTMLElement | null>): ModalDialog {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | undefined>(undefined);
  const isUnmounted = useRef(false);
  const returnFocus = () => {
    const target = returnFocusTo?.current ?? opener.current;
    if (target?.isConnected) target.focus();
  };
  useEffect(() => {
    const element = dialog.current;
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    if (element && !element.open) element.showModal();
    return () => {
      isUnmounted.current = true;
      element?.close();
      returnFocus();
    };
  }, []);
  return { dialog, isUnmounted, returnFocus };
}

/** A modal <dialog> makes the page inert, but Tab past its last control still leaves for the browser's own UI: wrap instead. */
export function keepTabInside(dialog: HTMLDialogElement | null, event: KeyboardEvent): void {
  if (event.key !== "Tab" || !dialog) return;
  const controls = [...dialog.querySelectorAll<HTMLElement>("button, select, input, textarea, a[href], [tabindex]")].filter((control) => !control.matches(":disabled, [tabindex='-1']"));
  const first = controls[0];
  const last = controls.at(-1);
  if (!first || !last) return;
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}
