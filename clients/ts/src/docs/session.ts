//! One document bound over the shared socket: the open and its retries, the
//! Yjs sync exchange, access changes and the handle's lifetime
//! (docs/protocol.md §2.5, §2.9, §8.2). Our updates and their acks are in
//! writer.ts, awareness in presence.ts. `Docs` (../docs.ts) owns the registry
//! and routes frames here.

import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { GoOnlineError } from '../errors.js'
import type { ClientFrame, ServerFrame, WireError } from '../frames.js'
import type { Channel } from '../internal.js'
import { ValueStore } from '../store.js'
import { STEP1, STEP2, readSyncMessage, syncStep1 } from './messages.js'
import { Presence } from './presence.js'
import type { DocHandle, DocOptions, SyncStatus } from './types.js'
import { Writer } from './writer.js'

/** What a session needs from its owner. */
export interface SessionHost {
  readonly channel: Channel
  readonly lingerMs: number
  /** The session is gone; forget it. */
  gone(session: DocSession): void
}

/**
 * Cap of the backoff (1 s, 2 s, 4 s, …) for re-sending an open refused with
 * `unavailable` (§6.1: the store failed or the node is draining) on the same socket.
 */
const RETRY_MAX_MS = 30_000
/** Pause before repairing after the server dropped a frame for going too fast. */
const RATE_LIMIT_PAUSE_MS = 1_000

type Phase =
  /** No socket, or not sent yet. */
  | 'idle'
  /** `open` sent; waiting for the server's SyncStep1. */
  | 'opening'
  /** SyncStep1 answered: local updates and awareness flow. */
  | 'joined'
  /** The open was refused with `unavailable`; a timer re-sends it. */
  | 'retrying'
  /** The open was refused for good. */
  | 'failed'
  /** The server closed the document (`access none`). */
  | 'revoked'
  /** Released (or the client closed). */
  | 'destroyed'

type Timer = ReturnType<typeof setTimeout>

const sameStatus = (a: SyncStatus, b: SyncStatus): boolean =>
  a.synced === b.synced && a.unacked === b.unacked && a.access === b.access && a.error === b.error

/** Refusals a new connection may answer differently. */
const REOPEN_ON_NEW_SOCKET = new Set(['unauthorized', 'forbidden', 'too_many_docs'])

export class DocSession implements DocHandle {
  readonly name: string
  readonly ydoc: Y.Doc
  readonly awareness: Awareness
  readonly ready: Promise<void>
  readonly sync: ValueStore<SyncStatus>

  private readonly ownsAwareness: boolean
  private readonly presence: Presence
  private readonly writer: Writer
  private phase: Phase = 'idle'
  private refs = 1
  private openId = -1
  /** The server's state vector from its SyncStep1: what a repair SyncStep2 is diffed against. */
  private serverSV: Uint8Array | null = null
  private synced = false
  private access: SyncStatus['access'] = 'read_write'
  private error: GoOnlineError | null = null
  private settled = false
  private resolveReady!: () => void
  private rejectReady!: (e: GoOnlineError) => void
  private openAttempts = 0
  private lingerTimer: Timer | undefined
  private retryTimer: Timer | undefined
  private repairTimer: Timer | undefined

  constructor(
    name: string,
    opts: DocOptions,
    private readonly host: SessionHost,
  ) {
    this.name = name
    this.ydoc = opts.ydoc ?? opts.awareness?.doc ?? new Y.Doc()
    this.ownsAwareness = !opts.awareness
    this.awareness = opts.awareness ?? new Awareness(this.ydoc)
    this.writer = new Writer(
      host.channel,
      name,
      () => this.phase === 'joined' && this.access === 'read_write',
      (e) => {
        this.error = e
        this.publish()
      },
      (fn) => this.guard(fn),
    )
    this.writer.countExisting(this.ydoc)
    this.sync = new ValueStore<SyncStatus>(this.status(), (e) => host.channel.report(e), sameStatus)
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    // A refusal must not become an unhandled rejection when nobody awaits `ready`.
    this.ready.catch(() => {})
    this.presence = new Presence(
      this.awareness,
      this,
      (data) => this.send({ type: 'awareness', doc: this.name, data }),
      (fn) => this.guard(fn),
    )
    this.ydoc.on('update', this.onDocUpdate)
  }

  // ---- lifetime ---------------------------------------------------------

  /** Another `client.doc(name)` for this handle; cancels a pending linger. */
  retain(): void {
    this.refs += 1
    clearTimeout(this.lingerTimer)
    this.lingerTimer = undefined
  }

  release = (): void => {
    if (this.phase === 'destroyed' || this.refs === 0) return
    this.refs -= 1
    if (this.refs > 0) return
    // Linger (even for 0 ms): StrictMode's release-then-acquire in one tick keeps the open.
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined
      if (this.refs === 0) this.dispose(true)
    }, this.host.lingerMs)
  }

  /** Closes the document and drops every listener. `sendClose` is false when the client closes for good. */
  dispose(sendClose: boolean): void {
    if (this.phase === 'destroyed') return
    const wasOpen = this.phase === 'opening' || this.phase === 'joined'
    this.phase = 'destroyed'
    for (const t of [this.lingerTimer, this.retryTimer, this.repairTimer]) clearTimeout(t)
    this.writer.reset()
    if (sendClose && wasOpen) this.send({ type: 'close', doc: this.name })
    this.ydoc.off('update', this.onDocUpdate)
    this.presence.dispose(this.ownsAwareness)
    this.synced = false
    this.settle(new GoOnlineError('closed', `document ${this.name} was released`))
    this.publish()
    this.host.gone(this)
  }

  get destroyed(): boolean {
    return this.phase === 'destroyed'
  }

  // ---- socket events ----------------------------------------------------

  /** Held by nobody, waiting out its linger. */
  get lingering(): boolean {
    return this.refs === 0 && this.phase !== 'destroyed'
  }

  /** A socket finished its handshake: (re-)open unless refused for good. */
  socketOpened(): void {
    if (this.phase === 'failed' && this.error && REOPEN_ON_NEW_SOCKET.has(this.error.code)) {
      // The refusal depended on the connection (who is signed in, what else
      // was open, a membership since granted): a new socket asks again.
      this.phase = 'idle'
      this.error = null
      this.access = 'read_write'
      this.publish()
    }
    if (this.phase === 'failed' || this.phase === 'revoked' || this.phase === 'destroyed') return
    this.openAttempts = 0
    this.sendOpen()
  }

  /** The socket is gone: nothing in flight will be answered, and presence would lie. */
  socketClosed(): void {
    clearTimeout(this.retryTimer)
    clearTimeout(this.repairTimer)
    this.retryTimer = this.repairTimer = undefined
    this.writer.reset()
    if (this.phase === 'opening' || this.phase === 'joined' || this.phase === 'retrying') this.phase = 'idle'
    this.synced = false
    this.presence.left()
    this.publish()
  }

  /** Whether an error's `re` names a frame of this session. */
  ownsId(id: number): boolean {
    return id === this.openId || this.writer.owns(id)
  }

  // ---- server frames ----------------------------------------------------

  onSync(data: Uint8Array): void {
    if (this.phase === 'destroyed' || this.phase === 'revoked') return
    let msg
    try {
      msg = readSyncMessage(data)
    } catch (e) {
      this.host.channel.report(e)
      return
    }
    if (msg.tag === STEP1) {
      // Only the answer to our `open` starts the exchange.
      if (this.phase === 'opening') this.joined(msg.payload)
      return
    }
    // SyncStep2 or Update: the server's changes; our handle is the origin so
    // the update observer does not send them back.
    this.guard(() => Y.applyUpdate(this.ydoc, msg.payload, this))
    if (msg.tag === STEP2 && this.phase === 'joined' && !this.synced) {
      this.synced = true
      this.settle(null)
      this.publish()
    }
  }

  onAwareness(data: Uint8Array): void {
    this.presence.apply(data)
  }

  onAck(id: number): void {
    if (!this.writer.ack(id)) return
    // A durable SyncStep2 re-sent whatever had been refused: the error is over.
    if (!this.writer.hasLoss && this.error && this.phase === 'joined') this.error = null
    this.publish()
  }

  onAccess(mode: SyncStatus['access'], reason: string | undefined): void {
    if (this.phase === 'destroyed' || this.phase === 'failed' || this.phase === 'revoked') return
    if (mode === 'none') {
      // The server closed the document: stop, and do not re-open on reconnect.
      this.phase = 'revoked'
      this.access = 'none'
      clearTimeout(this.retryTimer)
      clearTimeout(this.repairTimer)
      this.writer.reset()
      this.synced = false
      this.error = new GoOnlineError('forbidden', reason ?? `access to ${this.name} was withdrawn`)
      this.presence.left()
      this.settle(this.error)
      this.publish()
      return
    }
    const before = this.access
    this.access = mode
    if (mode === 'read_write' && before === 'read_only' && this.phase === 'joined') {
      // Edits made while read-only were kept locally: push them now.
      this.repair()
    }
    this.publish()
  }

  onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    if (this.phase === 'destroyed') return
    const re = frame.re
    if (re !== undefined && re === this.openId) return this.openRefused(frame)
    if (re !== undefined && this.writer.refused(re)) {
      this.error = GoOnlineError.fromWire(frame)
      // A viewer's writes are refused whatever `access` said.
      if (frame.code === 'forbidden' && this.access === 'read_write') this.access = 'read_only'
      this.publish()
      return
    }
    // No `re` of ours: `close`/`awareness` answers, or stale ids of an earlier
    // open. `doc_not_open` is expected in races; anything else is worth seeing.
    if (re === undefined && frame.code !== 'doc_not_open') this.host.channel.report(GoOnlineError.fromWire(frame))
  }

  /**
   * The server dropped a frame of this connection without saying which.
   * Re-send what may be missing after a pause.
   */
  frameDropped(): void {
    const suspect = this.phase === 'joined' && this.writer.suspectInFlight()
    if (suspect) this.publish()
    if (suspect || this.phase === 'opening') {
      clearTimeout(this.repairTimer)
      this.repairTimer = setTimeout(() => {
        this.repairTimer = undefined
        if (this.phase === 'opening') this.sendOpen()
        else if (this.phase === 'joined') {
          this.repair()
          this.presence.sendLocal()
        }
      }, RATE_LIMIT_PAUSE_MS)
    }
  }

  // ---- internals --------------------------------------------------------

  private sendOpen(): void {
    // The server says `read_only` again right after the open if that still holds.
    this.access = 'read_write'
    this.openId = this.host.channel.nextId()
    this.phase = this.send({ type: 'open', doc: this.name, id: this.openId }) ? 'opening' : 'idle'
  }

  private openRefused(frame: WireError): void {
    if (this.phase !== 'opening') return
    if (frame.code === 'doc_already_open') {
      // Only after a re-sent open whose first copy went through: its SyncStep1 is on the way.
      return
    }
    if (frame.code === 'unavailable') {
      this.phase = 'retrying'
      const delay = Math.min(1000 * 2 ** this.openAttempts, RETRY_MAX_MS)
      this.openAttempts += 1
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined
        if (this.phase === 'retrying' && this.host.channel.isOpen) this.sendOpen()
      }, delay)
      return
    }
    // forbidden, unauthorized, invalid_doc_name, not_found, too_many_docs, …:
    // retrying the same open gives the same answer.
    this.phase = 'failed'
    this.access = 'none'
    this.error = GoOnlineError.fromWire(frame)
    this.settle(this.error)
    this.publish()
  }

  /** The server's SyncStep1 arrived: answer it, ask for what we lack, publish presence. */
  private joined(serverSV: Uint8Array): void {
    this.phase = 'joined'
    this.openAttempts = 0
    this.serverSV = serverSV
    // Everything the server lacks, including edits made offline: no replay queue.
    if (this.access === 'read_write') this.writer.step2(this.ydoc, serverSV)
    this.send({ type: 'sync', doc: this.name, data: syncStep1(this.ydoc) })
    this.presence.joined()
    this.publish()
  }

  /** Re-sends everything the server may lack, as a SyncStep2 diffed against its state vector at open. */
  private repair(): void {
    if (this.phase !== 'joined' || this.access !== 'read_write' || !this.serverSV) return
    this.writer.step2(this.ydoc, this.serverSV)
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Our own origin marks what the server sent.
    if (origin === this || this.phase === 'destroyed') return
    this.writer.local(update, this.ydoc)
    this.publish()
  }

  private send(frame: ClientFrame): boolean {
    try {
      return this.host.channel.send(frame)
    } catch (e) {
      this.host.channel.report(e)
      return false
    }
  }

  /** Resolves or rejects `ready` the first time only. */
  private settle(error: GoOnlineError | null): void {
    if (this.settled) return
    this.settled = true
    if (error) this.rejectReady(error)
    else this.resolveReady()
  }

  private status(): SyncStatus {
    return { synced: this.synced, unacked: this.writer.unacked, access: this.access, error: this.error }
  }

  private publish(): void {
    this.sync.set(this.status())
  }

  /**
   * Runs Yjs/awareness code that also runs the user's observers: their
   * exceptions are reported, never thrown into the connection.
   */
  private guard<T>(fn: () => T): T | undefined {
    try {
      return fn()
    } catch (e) {
      this.host.channel.report(e)
      return undefined
    }
  }
}
