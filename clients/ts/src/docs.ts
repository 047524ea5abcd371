//! Yjs documents over the shared socket: the registry behind `client.doc()`.
//! Handles are refcounted and closed `lingerMs` after their last release, so
//! React StrictMode's mount/unmount/mount keeps one open document. Routes the
//! server's document frames (docs/protocol.md §2.4, §8.2 `access`) to each
//! document's session (docs/session.ts).

import type { ServerFrame } from './frames.js'
import { GoOnlineError } from './errors.js'
import type { Channel, Feature } from './internal.js'
import { DocSession, type SessionHost } from './docs/session.js'
import type { DocHandle, DocOptions } from './docs/types.js'

export type { DocHandle, DocOptions, SyncStatus } from './docs/types.js'

export interface DocsOptions {
  /** How long a released document stays open in case it is acquired again. */
  lingerMs: number
}

export class Docs implements Feature {
  private readonly sessions = new Map<string, DocSession>()
  private readonly host: SessionHost
  private closed = false

  constructor(channel: Channel, opts: DocsOptions) {
    this.host = {
      channel,
      lingerMs: opts.lingerMs,
      gone: (session) => {
        // A session released after a newer one took its name must not evict it.
        if (this.sessions.get(session.name) === session) this.sessions.delete(session.name)
      },
    }
  }

  /**
   * The handle for `name`, opened on the socket if it is new. Acquiring a name
   * again gives the same handle (and must be matched by another `release()`).
   */
  acquire(name: string, opts: DocOptions = {}): DocHandle {
    if (typeof name !== 'string') throw new TypeError('a document name must be a string')
    if (this.closed) throw new GoOnlineError('closed', 'the client is closed')
    if (opts.ydoc && opts.awareness && opts.awareness.doc !== opts.ydoc) {
      throw new TypeError('`awareness` must belong to `ydoc`')
    }
    let existing = this.sessions.get(name)
    const rebinding =
      (opts.ydoc !== undefined && opts.ydoc !== existing?.ydoc) || (opts.awareness !== undefined && opts.awareness !== existing?.awareness)
    if (existing && !existing.destroyed && existing.lingering && rebinding) {
      // Released and lingering, now wanted with another Y.Doc (a remount that
      // made a new one): close it for good and bind the new one.
      existing.dispose(true)
      existing = undefined
    }
    if (existing && !existing.destroyed) {
      if (opts.ydoc && opts.ydoc !== existing.ydoc) {
        throw new TypeError(`document ${name} is already bound to another Y.Doc`)
      }
      if (opts.awareness && opts.awareness !== existing.awareness) {
        throw new TypeError(`document ${name} is already bound to another Awareness`)
      }
      existing.retain()
      return existing
    }
    const session = new DocSession(name, opts, this.host)
    this.sessions.set(name, session)
    if (this.host.channel.isOpen) session.socketOpened()
    return session
  }

  onOpen(): void {
    for (const s of [...this.sessions.values()]) s.socketOpened()
  }

  onClose(): void {
    for (const s of [...this.sessions.values()]) s.socketClosed()
  }

  onFrame(frame: ServerFrame): boolean {
    switch (frame.type) {
      // Document frames are ours even for a name we no longer hold (late
      // answers after a close): nobody else could use them.
      case 'sync':
        this.sessions.get(frame.doc)?.onSync(frame.data)
        return true
      case 'awareness':
        this.sessions.get(frame.doc)?.onAwareness(frame.data)
        return true
      case 'ack':
        this.sessions.get(frame.doc)?.onAck(frame.id)
        return true
      case 'access':
        this.sessions.get(frame.doc)?.onAccess(frame.mode, frame.reason)
        return true
      case 'error':
        return this.onError(frame)
      default:
        return false
    }
  }

  private onError(frame: Extract<ServerFrame, { type: 'error' }>): boolean {
    // `doc` is set on every error from open/close/sync/awareness handling (§2.4).
    if (frame.doc !== undefined) {
      this.sessions.get(frame.doc)?.onError(frame)
      return true
    }
    if (frame.re !== undefined) {
      for (const s of this.sessions.values()) {
        if (s.ownsId(frame.re)) {
          s.onError(frame)
          return true
        }
      }
      return false
    }
    if (frame.code === 'rate_limited') {
      // A frame was dropped and the error does not say which: every document
      // re-sends what may be missing. Not claimed, so the others see it too.
      for (const s of this.sessions.values()) s.frameDropped()
    }
    return false
  }

  destroy(): void {
    this.closed = true
    for (const s of [...this.sessions.values()]) s.dispose(false)
    this.sessions.clear()
  }
}
