import { useCallback, useEffect, useRef, useState } from 'react';
import type { Page } from '../api/types';

/** Loads something once per `deps` change; `reload` fetches again. */
export function useResource<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const stableLoad = useCallback(load, deps);

  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const value = await stableLoad();
      if (mine === seq.current) setData(value);
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [stableLoad]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { data, setData, error, loading, reload };
}

/**
 * A cursor-paged list (API.md "Lists"): the first page per `deps` change, then "load more".
 * `setItems` lets live updates edit the list in place.
 */
export function usePaged<T>(loadPage: (cursor: string | null) => Promise<Page<T>>, deps: unknown[]) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const seq = useRef(0);
  const stableLoad = useCallback(loadPage, deps);

  /** Loads the first page again; `quiet` keeps the current items on screen meanwhile. */
  const reload = useCallback(async (quiet = false) => {
    const mine = ++seq.current;
    if (!quiet) setLoading(true);
    setError(null);
    try {
      const page = await stableLoad(null);
      if (mine !== seq.current) return;
      setItems(page.items);
      setCursor(page.next_cursor);
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [stableLoad]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    const mine = seq.current;
    setLoadingMore(true);
    try {
      const page = await stableLoad(cursor);
      if (mine !== seq.current) return;
      setItems((prev) => [...prev, ...page.items]);
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  }, [cursor, stableLoad]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { items, setItems, hasMore: cursor !== null, error, loading, loadingMore, reload, loadMore };
}
