//! Bookkeeping for `SyncStatus.unacked`: how many local Yjs updates the server
//! has not yet acknowledged as durable (docs/protocol.md §2.7).
//!
//! Local updates are numbered by a version counter. Every `sync` frame sent
//! with an `id` records the range of versions it carries:
//! - an Update frame carries the updates batched into it (`from..covers`);
//! - a SyncStep2 carries everything the server lacked when it was sent, so it
//!   covers every version up to the counter at that moment (`full`).
//! Acks of one document arrive in send order and an ack means "durable along
//! with everything sequenced before it", so an ack settles its frame and every
//! earlier one. A refused frame (an `error` with its id) was not stored: its
//! range stays "lost" until a later SyncStep2 that covers it is acknowledged.
//! The counter can therefore only reach zero through acks, never by guessing.

interface InFlight {
  /** First local version the frame carries. */
  from: number
  /** Last local version the frame carries. */
  covers: number
  /** A SyncStep2: carries every local version up to `covers`. */
  full: boolean
}

export class AckLedger {
  /** Local updates seen so far. */
  private version = 0
  /** Every version up to this one is acknowledged (unless lost, below). */
  private acked = 0
  /** Version ranges refused by the server or possibly dropped, not yet re-sent durably. */
  private lost: Array<[number, number]> = []
  /** Frames sent with an id and not yet answered, in send order. */
  private readonly inFlight = new Map<number, InFlight>()

  /** Counts one local update; returns its version. */
  local(): number {
    this.version += 1
    return this.version
  }

  /** The current local version (the last update counted). */
  get current(): number {
    return this.version
  }

  /** Local updates not (yet) acknowledged as durable: those after the last ack, and the lost ones before it. */
  get unacked(): number {
    let lostBefore = 0
    let end = 0
    // Ranges may overlap (a suspected frame later refused): count each version once.
    for (const [from, to] of [...this.lost].sort((x, y) => x[0] - y[0])) {
      const lo = Math.max(from, end + 1)
      const hi = Math.min(to, this.acked)
      if (hi >= lo) lostBefore += hi - lo + 1
      end = Math.max(end, to)
    }
    return this.version - this.acked + lostBefore
  }

  /** Whether some update was refused and has not been stored since. */
  get hasLoss(): boolean {
    return this.lost.length > 0
  }

  /** Whether frames are awaiting an answer. */
  get pending(): number {
    return this.inFlight.size
  }

  /** Whether `id` is a frame of this ledger still awaiting its answer. */
  owns(id: number): boolean {
    return this.inFlight.has(id)
  }

  /** Every version up to this one is durable (a SyncStep2 sent now carries the ones after it). */
  get durable(): number {
    return this.floor()
  }

  /** Records a frame sent with `id` carrying versions `from..current` (`full`: all up to current). */
  sent(id: number, full: boolean, from: number): void {
    this.inFlight.set(id, { from, covers: this.version, full })
  }

  /** An `ack` arrived: settles `id` and every frame sent before it. Returns false for an unknown id. */
  ack(id: number): boolean {
    if (!this.inFlight.has(id)) return false
    for (const [fid, f] of this.inFlight) {
      this.inFlight.delete(fid)
      this.acked = Math.max(this.acked, f.covers)
      if (f.full) this.settleLost(f.covers)
      if (fid === id) break
    }
    return true
  }

  /** The server refused frame `id` (nothing of it was stored). Returns false for an unknown id. */
  refused(id: number): boolean {
    const f = this.inFlight.get(id)
    if (!f) return false
    this.inFlight.delete(id)
    if (f.from <= f.covers) this.lost.push([f.from, f.covers])
    return true
  }

  /** A frame carrying `from..current` could not be sent at all (too large). */
  unsent(from: number): void {
    if (from <= this.version) this.lost.push([from, this.version])
  }

  /**
   * The server dropped some frame without saying which (`rate_limited`
   * carries no `re`): every frame still in flight may be the one.
   */
  suspectInFlight(): void {
    for (const f of this.inFlight.values()) {
      if (f.from <= f.covers) this.lost.push([f.from, f.covers])
    }
  }

  /** The socket is gone: no answer will come for the frames in flight. */
  connectionLost(): void {
    this.inFlight.clear()
  }

  /** The highest version up to which everything is durable. */
  private floor(): number {
    let floor = this.acked
    for (const [from] of this.lost) floor = Math.min(floor, from - 1)
    return floor
  }

  /** A SyncStep2 covering every version up to `covers` is durable. */
  private settleLost(covers: number): void {
    const left: Array<[number, number]> = []
    for (const [from, to] of this.lost) {
      if (to > covers) left.push([Math.max(from, covers + 1), to])
    }
    this.lost = left
  }
}
