// A labelled form field with the API's message for it beside it (aria-describedby, aria-invalid): the console has no validation rules of its own.
import type { ComponentChildren } from "preact";

export interface FieldProps {
  id: string;
  label: string;
  hint?: string;
  /** The API's messages for this field. */
  errors?: readonly string[];
  children: (describedBy: string | undefined, isInvalid: boolean) => ComponentChildren;
}

export function Field(props: FieldProps) {
  const errors = props.errors ?? [];
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const errorId = errors.length > 0 ? `${props.id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${errors.length > 0 ? " field-invalid" : ""}`}>
      <label for={props.id}>{props.label}</label>
      {props.children(describedBy, errors.length > 0)}
      {props.hint && (
        <p class="field-hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {errors.length > 0 && (
        <p class="field-error" id={errorId}>
          {errors.join("; ")}
        </p>
      )}
    </div>
  );
}
