// A confirmation before an act that cannot be undone (revoke) or that changes what edges serve (rotate): a native modal <dialog> (the page behind it inert, Escape closes it), Tab kept inside, focus back on the opener when it closes.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export interface ConfirmDialogProps {
  title: string;
  confirmLabel: string;
  isDanger?: boolean;
  isBusy?: boolean;
  onConfirm(): void;
  onCancel(): void;
  children: ComponentChildren;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLElement | undefined>(undefined);
  const isUnmounted = useRef(false);
  /** Where the user was; if the page re-rendered it away, the page decides (the browser would leave focus on <body>). */
  const returnFocus = () => {
    if (opener.current?.isConnected) opener.current.focus();
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
  // Chrome may close a modal dialog on Escape without a cancel event (no user activation since it opened): a close
  // that this component did not ask for is a cancel all the same.
  const closed = () => {
    if (isUnmounted.current) return;
    returnFocus();
    props.onCancel();
  };
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onCancel={(event) => (event.preventDefault(), props.onCancel())} onClose={closed} onKeyDown={(event) => keepTabInside(dialog.current, event)}>
      <form method="dialog" onSubmit={(event) => (event.preventDefault(), props.onConfirm())}>
        <h2 id="confirm-title">{props.title}</h2>
        <div class="confirm-body">{props.children}</div>
        <div class="actions">
          <button type="button" onClick={props.onCancel} autofocus>
            Cancel
          </button>
          <button type="submit" class={props.isDanger ? "danger" : "primary"} disabled={props.isBusy}>
            {props.isBusy ? "Working…" : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
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
