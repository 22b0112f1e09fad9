// Loads what a page shows from the API, again every refreshMs when asked (live pages), and keeps the last answer while the next is on its way.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { asProblem } from "./client.ts";
import type { ProblemError } from "./client.ts";

export interface Loaded<T> {
  data: T | undefined;
  error: ProblemError | undefined;
  isLoading: boolean;
  reload(): void;
}

/**
 * @example
 * const edges = useApi(() => client.GET("/edges").then(({ data }) => data!), [], { refreshMs: 5000 });
 */
export function useApi<T>(load: () => Promise<T>, deps: readonly unknown[], options: { refreshMs?: number } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ProblemError | undefined>(undefined);
  const [isLoading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let isStopped = false;
    const run = async () => {
      const ticket = ++latest.current;
      setLoading(true);
      try {
        const value = await load();
        if (ticket !== latest.current || isStopped) return;
        setData(value);
        setError(undefined);
      } catch (caught) {
        if (ticket !== latest.current || isStopped) return;
        setError(asProblem(caught));
      } finally {
        if (ticket === latest.current && !isStopped) {
          setLoading(false);
          // The next read only after this one ended: a slow API is never asked twice at once.
          if (options.refreshMs !== undefined) timer = setTimeout(() => void run(), options.refreshMs);
        }
      }
    };
    void run();
    return () => {
      isStopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller names what the load depends on
  }, [...deps, generation, options.refreshMs]);

  return { data, error, isLoading, reload };
}
