//! `usePresence` and `useOthers`: a document's awareness (y-protocols) as
//! React state — your own state with a merging setter, and everybody else's.
//!
//! `useSyncExternalStore` needs a snapshot that stays the same object while
//! nothing changed (a fresh array on every read re-renders forever), so the
//! others' list is cached and rebuilt only when its content changes. The state
//! objects of a client are replaced on every renewal (every 15 s, same
//! content): a deep comparison keeps the cached entries then.

import { useCallback, useMemo, useSyncExternalStore } from 'react'
import { equalityDeep } from 'lib0/function'
import type { Awareness } from 'y-protocols/awareness'

/** Anything carrying an awareness: a `DocHandle`, or `useDoc()`'s result. */
export type AwarenessSource = { readonly awareness: Awareness | null } | null | undefined

/** A state in an awareness: a JSON object (a name, a colour, a cursor). */
export type PresenceState = Record<string, unknown>

/** Another client's awareness state. */
export interface Other<S extends PresenceState = PresenceState> {
  /** Its Yjs clientID (one per document per tab). */
  readonly clientId: number
  readonly state: S
}

/** What `setMyState` takes: fields to merge into your state, or a function of the current state giving them. */
export type PresenceUpdate<S extends PresenceState> = Partial<S> | ((current: S | null) => Partial<S>)

type AwarenessChange = { added: number[]; updated: number[]; removed: number[] }

/**
 * Your own awareness state in the document, and a setter that merges fields
 * into it (`setMyState({ cursor })` keeps `name`). Returns `[null, setter]`
 * until the document is acquired; the setter does nothing then.
 */
export function usePresence<S extends PresenceState = PresenceState>(
  source: AwarenessSource,
): [S | null, (update: PresenceUpdate<S>) => void] {
  const awareness = source?.awareness ?? null
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (!awareness) return noop
      // `update` rather than `change`: a set with equal content replaces the
      // state object without a `change`, and the snapshot must follow it.
      const handler = (c: AwarenessChange) => {
        const me = awareness.clientID
        if (c.added.includes(me) || c.updated.includes(me) || c.removed.includes(me)) onChange()
      }
      awareness.on('update', handler)
      return () => awareness.off('update', handler)
    },
    [awareness],
  )
  // `getLocalState()` returns the same object until the next set: a stable snapshot.
  const get = useCallback(() => (awareness ? (awareness.getLocalState() as S | null) : null), [awareness])
  const mine = useSyncExternalStore(subscribe, get, get)
  const setMine = useCallback(
    (update: PresenceUpdate<S>) => {
      if (!awareness) return
      const current = awareness.getLocalState() as S | null
      const patch = typeof update === 'function' ? update(current) : update
      awareness.setLocalState({ ...(current ?? {}), ...patch })
    },
    [awareness],
  )
  return [mine, setMine]
}

/**
 * The other clients present in the document (not you), in the order they
 * appeared, with their states. Re-renders when one joins, leaves or changes
 * its state. Empty until the document is acquired.
 */
export function useOthers<S extends PresenceState = PresenceState>(source: AwarenessSource): ReadonlyArray<Other<S>> {
  const awareness = source?.awareness ?? null
  const store = useMemo(() => othersStore<S>(awareness), [awareness])
  return useSyncExternalStore(store.subscribe, store.get, store.get)
}

const NONE: ReadonlyArray<never> = Object.freeze([])

function othersStore<S extends PresenceState>(awareness: Awareness | null) {
  let cached: ReadonlyArray<Other<S>> = NONE
  return {
    subscribe(onChange: () => void): () => void {
      if (!awareness) return noop
      // `change` fires when a state's content changed, or a client came or went.
      awareness.on('change', onChange)
      return () => awareness.off('change', onChange)
    },
    /**
     * Rebuilds the list from the awareness and returns the cached one when it
     * holds the same content: comparing here (rather than only in the event
     * handler) also catches changes made before React subscribed.
     */
    get(): ReadonlyArray<Other<S>> {
      if (!awareness) return NONE
      const next: Array<Other<S>> = []
      let same = true
      for (const [clientId, state] of awareness.getStates()) {
        if (clientId === awareness.clientID || state == null) continue
        const prev = cached[next.length]
        if (prev && prev.clientId === clientId && (prev.state === state || equalityDeep(prev.state, state))) {
          next.push(prev)
        } else {
          same = false
          next.push(Object.freeze({ clientId, state: state as S }))
        }
      }
      if (same && next.length === cached.length) return cached
      cached = next.length === 0 ? NONE : Object.freeze(next)
      return cached
    },
  }
}

function noop(): void {}
