// A form's refusal by the API: its messages at the fields they name, focus moved to the first such field (else to the summary above the form).
import { useEffect, useRef, useState } from "preact/hooks";
import type { ProblemError } from "../api/client.ts";
import { fieldKey } from "./distribution-document.ts";

export function useRefusal() {
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);
  const form = useRef<HTMLFormElement>(null);
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (problem) (form.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? summary.current)?.focus();
  }, [problem]);
  /** The API's messages for the body field `key` (`name`, `expiresIn`). */
  const errorsFor = (key: string) => (problem?.issues ?? []).filter((issue) => fieldKey(issue) === key).map((issue) => `${issue.path}: ${issue.message}`);
  return { problem, setProblem, form, summary, errorsFor };
}
