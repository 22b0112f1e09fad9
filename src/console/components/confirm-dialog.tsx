// A confirmation before an act that cannot be undone (revoke) or that changes what edges serve (rotate): a native modal <dialog> (the page behind it inert, Escape closes it), Tab kept inside, focus back on the opener when it closes (modal-dialog.ts).
import type { ComponentChildren } from "preact";
import { keepTabInside, useModalDialog } from "./modal-dialog.ts";

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
  const { dialog, isUnmounted, returnFocus } = useModalDialog();
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
