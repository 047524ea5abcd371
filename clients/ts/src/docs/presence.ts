//! A document's awareness (presence) over the native protocol
//! (docs/protocol.md §2.8): our local changes go out while the document is
//! open on the server, the server's updates come in, and the others are
//! forgotten whenever we are not on the document, so presence never lies.

import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from 'y-protocols/awareness'

interface AwarenessChange {
  added: number[]
  updated: number[]
  removed: number[]
}

export class Presence {
  /** The document is open on the server: local changes are sent. */
  private live = false

  constructor(
    readonly awareness: Awareness,
    /** Origin of what the server sends, so it is not sent back. */
    private readonly origin: object,
    private readonly send: (data: Uint8Array) => void,
    /** Runs code that may run the user's awareness listeners; reports what they throw. */
    private readonly guard: <T>(fn: () => T) => T | undefined,
  ) {
    awareness.on('update', this.onUpdate)
  }

  /**
   * The server's SyncStep1 arrived: publish our state. The server may hold a
   * removal of it at our last clock + 1 (generated when we left) and refuses
   * an equal clock (§2.8), so we go two past the clock we last published. The
   * state itself is unchanged, so no user event fires.
   */
  joined(): void {
    this.live = true
    const a = this.awareness
    const meta = a.meta.get(a.clientID)
    if (a.getLocalState() === null || !meta) return
    a.meta.set(a.clientID, { clock: meta.clock + 2, lastUpdated: Date.now() })
    this.sendLocal()
  }

  /** Not on the document any more (socket gone, revoked): the others' states would go stale. */
  left(): void {
    this.live = false
    const a = this.awareness
    const others = [...a.getStates().keys()].filter((id) => id !== a.clientID)
    if (others.length > 0) this.guard(() => removeAwarenessStates(a, others, this.origin))
  }

  /** An `awareness` frame from the server. */
  apply(data: Uint8Array): void {
    if (this.live) this.guard(() => applyAwarenessUpdate(this.awareness, data, this.origin))
  }

  /** Sends our state again at the same clock (after a frame may have been dropped). */
  sendLocal(): void {
    if (this.live && this.awareness.getLocalState() !== null) this.sendClients([this.awareness.clientID])
  }

  /** Stops listening; forgets the others; destroys the awareness if we created it. */
  dispose(destroyAwareness: boolean): void {
    this.awareness.off('update', this.onUpdate)
    this.left()
    if (destroyAwareness) this.guard(() => this.awareness.destroy())
  }

  private onUpdate = (change: AwarenessChange, origin: unknown): void => {
    if (!this.live) return
    if (origin === this.origin) {
      // The server removed our own state (TTL after a stall); y-protocols kept
      // it and bumped our clock past the removal, so publishing again wins.
      if (change.removed.includes(this.awareness.clientID)) this.sendLocal()
      return
    }
    // Local changes, including y-protocols' 15 s renewal (a same-state update).
    const clients = [...change.added, ...change.updated, ...change.removed]
    if (clients.length > 0) this.sendClients(clients)
  }

  private sendClients(clients: number[]): void {
    const data = this.guard(() => encodeAwarenessUpdate(this.awareness, clients))
    if (data) this.send(data)
  }
}
