// What a confirmed act did, said where focus can go: after a revocation its button is gone with the row's state.
import { useEffect, useRef, useState } from "preact/hooks";

/** After a confirmed revocation its button is gone: focus goes to the notice of what happened. */
export function useNotice() {
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const element = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (notice) element.current?.focus();
  }, [notice]);
  const view = notice ? (
    <p ref={element} class="notice" tabIndex={-1}>
      {notice}
    </p>
  ) : undefined;
  return { setNotice, view };
}
