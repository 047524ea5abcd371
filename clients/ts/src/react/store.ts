//! `useStore`: reads an SDK `ReadableStore` with `useSyncExternalStore`, so a
//! value is never torn between components and a change re-renders only the
//! components that read it.

import { useCallback, useSyncExternalStore } from 'react'
import type { ReadableStore } from '../store.js'

/**
 * The current value of `store`, re-rendering on change; `fallback` while
 * `store` is null (e.g. before a hook's effect acquired the resource). Pass a
 * constant `fallback` (not a fresh object each render).
 */
export function useStore<T>(store: ReadableStore<T>): T
export function useStore<T, F>(store: ReadableStore<T> | null | undefined, fallback: F): T | F
export function useStore<T, F>(store: ReadableStore<T> | null | undefined, fallback?: F): T | F {
  // Wrapped so that stores whose methods are not bound still work, and so the
  // listener gets no argument (React's callback takes none).
  const subscribe = useCallback(
    (onChange: () => void) => (store ? store.subscribe(() => onChange()) : noop),
    [store],
  )
  const get = useCallback(() => (store ? store.get() : (fallback as F)), [store, fallback])
  return useSyncExternalStore(subscribe, get, get)
}

/**
 * Like `useStore`, for a part of the value: `select` must return a stable
 * value for an unchanged input (a field, not a new object), so the component
 * re-renders only when that part changes.
 */
export function useStoreSelect<T, S, F>(
  store: ReadableStore<T> | null | undefined,
  select: (value: T) => S,
  fallback: F,
): S | F {
  const subscribe = useCallback(
    (onChange: () => void) => (store ? store.subscribe(() => onChange()) : noop),
    [store],
  )
  // The selector is kept out of the dependencies on purpose: an inline arrow
  // would resubscribe on every render. It must be pure.
  const get = () => (store ? select(store.get()) : fallback)
  return useSyncExternalStore(subscribe, get, get)
}

function noop(): void {}
