//! The public types of documents: what `client.doc()` returns and what its
//! sync status says.

import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { GoOnlineError } from '../errors.js'
import type { ReadableStore } from '../store.js'

/** What the UI shows about a document's sync state. */
export interface SyncStatus {
  /** The document matches the server's (the exchange after the last open finished); false while offline. */
  synced: boolean
  /** Local updates the server has not yet acknowledged as durable. 0 means every edit is safe. */
  unacked: number
  /** What the server lets this connection do with the document. `none`: it closed the document. */
  access: 'read_write' | 'read_only' | 'none'
  /** The last refusal: an edit the server would not store, or why the document is not available. */
  error: GoOnlineError | null
}

/** Options of `client.doc(name, opts)`. */
export interface DocOptions {
  /** The Yjs document to bind. Default: `awareness.doc`, or a new `Y.Doc`. */
  ydoc?: Y.Doc
  /** The awareness to publish. Default: a new `Awareness` over the document. */
  awareness?: Awareness
}

/** A document bound to the client's socket, from `client.doc(name)`. */
export interface DocHandle {
  readonly name: string
  readonly ydoc: Y.Doc
  /** Presence of everyone on the document (y-protocols). */
  readonly awareness: Awareness
  /** Resolves on the first sync; rejects with a `GoOnlineError` if the server refuses the document for good. */
  readonly ready: Promise<void>
  readonly sync: ReadableStore<SyncStatus>
  /**
   * Gives the handle back (once per `client.doc()` call). The document is
   * closed `docLingerMs` after the last release unless acquired again.
   */
  release(): void
}
