// A secret the API shows once (a new token): a modal <dialog> that says so, the secret in a read-only field with a copy button, focus back on the opener when it closes.
import type { ComponentChildren, RefObject } from "preact";
import { useRef, useState } from "preact/hooks";
import { keepTabInside, useModalDialog } from "./modal-dialog.ts";

export interface SecretDialogProps {
  title: string;
  /** The field's label: what the secret is (`API token ci-deploy (operator)`). */
  label: string;
  secret: string;
  /** Where focus goes when it closes (the form's create button): else back where it was when it opened. */
  returnFocusTo?: RefObject<HTMLElement | null>;
  onClose(): void;
  children: ComponentChildren;
}

export function SecretDialog(props: SecretDialogProps) {
  const { dialog, isUnmounted } = useModalDialog(props.returnFocusTo);
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<string | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("Copied to the clipboard.");
    } catch {
      // No clipboard here (a browser that refuses it): the field is selected for Ctrl+C instead.
      field.current?.focus();
      field.current?.select();
      setCopied("The browser did not let the console copy it: the field is selected, press Ctrl+C (⌘C).");
    }
  };
  return (
    <dialog ref={dialog} class="confirm secret" aria-labelledby="secret-title" aria-describedby="secret-once" onCancel={(event) => (event.preventDefault(), props.onClose())} onClose={() => isUnmounted.current || props.onClose()} onKeyDown={(event) => keepTabInside(dialog.current, event)}>
      <h2 id="secret-title">{props.title}</h2>
      <p id="secret-once" class="secret-once">
        <strong>This is the only time it is shown.</strong> Moat keeps only its SHA-256: copy it now. If it is lost, revoke it and create another.
      </p>
      <div class="field">
        <label for="secret-value">{props.label}</label>
        <input ref={field} id="secret-value" class="code" type="text" readOnly value={props.secret} spellcheck={false} autocomplete="off" onFocus={(event) => event.currentTarget.select()} />
      </div>
      <div class="confirm-body">{props.children}</div>
      <p class="meta" role="status">
        {copied}
      </p>
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()} autofocus>
          Copy
        </button>
        <button type="button" onClick={props.onClose}>
          Done
        </button>
      </div>
    </dialog>
  );
}
