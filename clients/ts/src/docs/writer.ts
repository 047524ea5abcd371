//! Our side of a document's updates: local Yjs updates merged per tick and
//! sent as `sync` Update frames with an id, SyncStep2s that carry whatever the
//! server lacks, and the acks and refusals that settle them (docs/protocol.md
//! §2.5, §2.7). The ledger turns those into `SyncStatus.unacked`.

import * as Y from 'yjs'
import { GoOnlineError } from '../errors.js'
import type { Channel } from '../internal.js'
import { AckLedger } from './ledger.js'
import { syncStep2, syncUpdate } from './messages.js'

/** A batch is flushed before the tick ends once it passes this share of the frame limit. */
const BATCH_SHARE = 4
/**
 * Above this many updates in a tick, the batch is encoded from the document
 * (what this client added since the batch began) instead of merged update by
 * update: `Y.mergeUpdates` of 2,000 one-character updates takes ~75 ms, the
 * diff a few.
 */
const MERGE_MAX = 32

export class Writer {
  private readonly ledger = new AckLedger()
  /** Local updates of this tick, sent merged as one frame. */
  private batch: Uint8Array[] = []
  private batchBytes = 0
  private batchFrom = 0
  /** The document and this client's clock when the batch began. */
  private batchDoc: Y.Doc | undefined
  private batchClock = 0

  constructor(
    private readonly channel: Channel,
    private readonly doc: string,
    /** Whether updates may be sent now (the document is open on the server, writable). */
    private readonly canSend: () => boolean,
    /** A frame could not be sent at all (too large). */
    private readonly onUnsendable: (error: GoOnlineError) => void,
    /** Runs Yjs code; reports what it throws. */
    private readonly guard: <T>(fn: () => T) => T | undefined,
  ) {}

  /** Local updates not yet acknowledged as durable. */
  get unacked(): number {
    return this.ledger.unacked
  }

  /** Whether some refused update has not been stored since. */
  get hasLoss(): boolean {
    return this.ledger.hasLoss
  }

  /** Whether an error's `re` names a frame awaiting its answer. */
  owns(id: number): boolean {
    return this.ledger.owns(id)
  }

  /**
   * Counts a local update and, if it may go now, batches it. Otherwise the
   * SyncStep2 after the next open carries it (no replay queue).
   */
  local(update: Uint8Array, ydoc?: Y.Doc): void {
    const version = this.ledger.local()
    if (!this.canSend()) return
    if (this.batch.length === 0) {
      this.batchFrom = version
      this.batchDoc = ydoc
      if (ydoc) this.batchClock = clockBefore(ydoc, update)
      // One frame per tick: a loop of edits outside a transaction stays under the frame budget.
      void Promise.resolve().then(this.flush)
    }
    this.batch.push(update)
    this.batchBytes += update.byteLength
    if (this.batchBytes > this.channel.limits.max_frame_bytes / BATCH_SHARE) this.flush()
  }

  /**
   * Counts content the Y.Doc already had when it was bound: it is not known
   * to be on the server until the first SyncStep2 is acked.
   */
  countExisting(ydoc: Y.Doc): void {
    // An empty state vector encodes as the single byte 0.
    if (Y.encodeStateVector(ydoc).byteLength > 1) this.ledger.local()
  }

  /** Sends a SyncStep2 with what a server at state vector `sv` lacks: every local update not yet durable. */
  step2(ydoc: Y.Doc, sv: Uint8Array): void {
    // Anything batched is in it too.
    this.batch = []
    this.batchBytes = 0
    const diff = this.guard(() => Y.encodeStateAsUpdate(ydoc, sv))
    if (diff) this.send(syncStep2(diff), true, this.ledger.durable + 1)
  }

  /** An `ack`; false if the id is not ours. */
  ack(id: number): boolean {
    return this.ledger.ack(id)
  }

  /** An `error` answering frame `id`; false if the id is not ours. */
  refused(id: number): boolean {
    return this.ledger.refused(id)
  }

  /** The server dropped some frame without saying which: those in flight are suspect. Returns whether any were. */
  suspectInFlight(): boolean {
    if (this.ledger.pending === 0) return false
    this.ledger.suspectInFlight()
    return true
  }

  /** The socket is gone (or the document closed): drop the batch, expect no more answers. */
  reset(): void {
    this.batch = []
    this.batchBytes = 0
    this.ledger.connectionLost()
  }

  private flush = (): void => {
    const batch = this.batch
    this.batch = []
    this.batchBytes = 0
    if (batch.length === 0 || !this.canSend()) return
    const doc = this.batchDoc
    const merged =
      batch.length === 1
        ? batch[0]!
        : batch.length > MERGE_MAX && doc
          ? this.guard(() => ownChangesSince(doc, this.batchClock))
          : this.guard(() => Y.mergeUpdates(batch))
    if (merged) this.send(syncUpdate(merged), false, this.batchFrom)
  }

  /** Sends `data` with an id, recording the local versions `from..current` it carries. */
  private send(data: Uint8Array, full: boolean, from: number): void {
    const id = this.channel.nextId()
    let sent: boolean
    try {
      sent = this.channel.send({ type: 'sync', doc: this.doc, data, id })
    } catch (e) {
      // Over the frame limit: it can never be sent, so it stays unacked.
      this.ledger.unsent(from)
      this.onUnsendable(e instanceof GoOnlineError ? e : new GoOnlineError('frame_too_large', String(e)))
      return
    }
    // Not sent means the socket just went: the next open's SyncStep2 carries it.
    if (sent) this.ledger.sent(id, full, from)
  }
}

/** This client's clock in `ydoc` before `update` (a local update, just applied). */
function clockBefore(ydoc: Y.Doc, update: Uint8Array): number {
  const from = Y.parseUpdateMeta(update).from.get(ydoc.clientID)
  // A deletion-only update adds no structs: the clock did not move.
  return from ?? Y.decodeStateVector(Y.encodeStateVector(ydoc)).get(ydoc.clientID) ?? 0
}

/**
 * What this client added to `ydoc` since its clock was `clock`, with the
 * document's delete set: every other client at its current clock, so their
 * content is left out.
 */
function ownChangesSince(ydoc: Y.Doc, clock: number): Uint8Array {
  const sv = Y.decodeStateVector(Y.encodeStateVector(ydoc))
  sv.set(ydoc.clientID, clock)
  return Y.encodeStateAsUpdate(ydoc, Y.encodeStateVector(sv))
}
