//! `useDoc` and `useSyncStatus`: a Yjs document held open for as long as a
//! component is mounted.
//!
//! The document is acquired in an effect, never during render (a render may be
//! thrown away), and released in the effect's cleanup. The SDK keeps a released
//! document open for `docLingerMs` in case it is acquired again, so React
//! StrictMode's mount → unmount → mount, and a remount that follows right
//! after an unmount, share one server-side open and one `Y.Doc`.

import { useEffect, useRef, useState } from 'react'
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Client } from '../client.js'
import type { DocHandle, DocOptions, SyncStatus } from '../docs.js'
import type { GoOnlineError } from '../errors.js'
import { useClient } from './context.js'
import { useStore, useStoreSelect } from './store.js'

export interface UseDocResult {
  /** The handle; null until the effect acquired it (the first render) and while `name` is null. */
  doc: DocHandle | null
  /** Shorthand for `doc.ydoc`. */
  ydoc: Y.Doc | null
  /** Shorthand for `doc.awareness`. */
  awareness: Awareness | null
  /** The first sync with the server is done (`doc.ready` resolved). Stays true across reconnects. */
  ready: boolean
  /** Why the document cannot be used: the open was refused (`forbidden`, `invalid_doc_name`…), or a sync error. */
  error: GoOnlineError | null
}

interface Held {
  client: Client
  name: string
  /** Null when acquiring failed (the client is closed): `error` says why. */
  handle: DocHandle | null
  ready: boolean
  error: GoOnlineError | null
}

/**
 * Handles whose first sync is known to be done, so that re-acquiring one (a
 * remount) starts out `ready` instead of flickering through "loading".
 */
const readyHandles = /* @__PURE__ */ new WeakSet<DocHandle>()

/**
 * Opens the document `name` while the component is mounted (null: none).
 * `opts` (`ydoc`, `awareness`) are read when the document is acquired; a
 * change of `opts` alone does not re-acquire it. A change of `name` releases
 * the old document and acquires the new one.
 */
export function useDoc(name: string | null | undefined, opts?: DocOptions): UseDocResult {
  const client = useClient()
  const [held, setHeld] = useState<Held | null>(null)
  const optsRef = useRef(opts)
  optsRef.current = opts

  useEffect(() => {
    if (name == null) {
      setHeld(null)
      return
    }
    let handle: DocHandle
    try {
      handle = client.doc(name, optsRef.current)
    } catch (e) {
      // A closed client refuses with a `GoOnlineError`: show it. Anything else
      // (a name already bound to another `ydoc`) is a bug in the caller: throw.
      if (typeof (e as { code?: unknown } | null)?.code !== 'string') throw e
      setHeld({ client, name, handle: null, ready: false, error: e as GoOnlineError })
      return
    }
    let current = true
    setHeld({ client, name, handle, ready: readyHandles.has(handle), error: null })
    handle.ready.then(
      () => {
        readyHandles.add(handle)
        if (current) setHeld((h) => (h && h.handle === handle ? { ...h, ready: true } : h))
      },
      (error: GoOnlineError) => {
        if (current) setHeld((h) => (h && h.handle === handle ? { ...h, error } : h))
      },
    )
    return () => {
      current = false
      handle.release()
    }
  }, [client, name])

  // Until the effect ran for the current client and name, what is held belongs
  // to a previous name: show nothing rather than the wrong document.
  const live = held && held.client === client && held.name === name ? held : null
  const doc = live?.handle ?? null
  const syncError = useStoreSelect(doc?.sync, (s) => s.error, null)
  return {
    doc,
    ydoc: doc?.ydoc ?? null,
    awareness: doc?.awareness ?? null,
    ready: live?.ready ?? false,
    error: live?.error ?? syncError,
  }
}

const NO_SYNC: SyncStatus = Object.freeze({ synced: false, unacked: 0, access: 'none', error: null }) as SyncStatus

/**
 * The document's sync status: `synced` (matches the server's; false while
 * offline), `unacked` (local updates not yet acknowledged as durable: 0 means
 * every edit is safe), `access` and `error`. For a null handle (before
 * `useDoc` acquired it): not synced, nothing unacked, no access.
 */
export function useSyncStatus(handle: DocHandle | null | undefined): SyncStatus {
  return useStore(handle?.sync, NO_SYNC)
}
