//! One chat's outgoing messages (docs/protocol.md §10.6), held by `Chat` so
//! they outlive the rooms that show them: a room closed and opened again (a
//! remount, a navigation) still shows its pending and failed messages, and
//! `resend`/`discard` still work.
//!
//! Each message gets a `client_id` on the device, shows at once as pending,
//! and is sent with the idempotency key `chat:{client_id}` and `whileOffline:
//! 'queue'`, so it waits for a connection and is stored exactly once however
//! often it is sent again. A refusal for a moment (`rate_limited`: sends are
//! limited per user; `unavailable`; `timeout`) is retried with the same key
//! after the server's `retryAfter` or a capped backoff, the message staying
//! pending; meanwhile later messages wait behind it, so they are stored in the
//! order they were written. Only a lasting refusal (`forbidden`,
//! `invalid_argument`, `conflict`, `not_found`…) fails a message, until
//! `resend` (with a new key: the old one replays its refusal) or `discard`.

import { backoffDelay } from '../backoff.js'
import type { CallFn } from '../calls.js'
import { GoOnlineError } from '../errors.js'
import type { ChatMessageRow } from '../methods.js'
import { ValueStore, type ReadableStore } from '../store.js'
import { randomId } from './ids.js'
import type { ChatMessage } from './messages.js'

/** Refusals for a moment: the message is sent again, with the same key. */
const TRANSIENT = new Set(['rate_limited', 'unavailable', 'timeout'])

function asError(e: unknown): GoOnlineError {
  return e instanceof GoOnlineError ? e : new GoOnlineError('internal', e instanceof Error ? e.message : String(e))
}

export interface OutboxHost {
  call: CallFn
  chatId: string
  me: () => string | null
  report: (e: unknown) => void
  /** Nothing is pending or failed any more. */
  idle: () => void
}

interface Entry {
  clientId: string
  message: ChatMessage
  /** `resend`s so far: each gets its own key. */
  resends: number
  /** Refusals for a moment in a row (the backoff's attempt). */
  retries: number
  waiters: Array<{ resolve: (m: ChatMessage) => void; reject: (e: unknown) => void }>
}

export class Outbox {
  /** This client's unconfirmed messages (pending or failed), in send order. */
  readonly local: ReadableStore<ChatMessage[]>
  private readonly localStore: ValueStore<ChatMessage[]>
  /** By `client_id`, in send order. */
  private readonly entries = new Map<string, Entry>()
  /** Waiting to be sent again (or behind one that is), in send order. */
  private blocked: Entry[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The blocked message being sent again now. */
  private draining: Entry | undefined
  private readonly storedListeners = new Set<(row: ChatMessageRow) => void>()

  constructor(private readonly host: OutboxHost) {
    this.local = this.localStore = new ValueStore<ChatMessage[]>([], host.report)
  }

  /** Whether nothing is pending or failed. */
  get idle(): boolean {
    return this.entries.size === 0
  }

  /** Calls `listener` with each message the server stored; returns the unsubscribe. */
  onStored(listener: (row: ChatMessageRow) => void): () => void {
    this.storedListeners.add(listener)
    return () => this.storedListeners.delete(listener)
  }

  send(body: string): Promise<ChatMessage> {
    const clientId = randomId()
    const entry: Entry = {
      clientId,
      resends: 0,
      retries: 0,
      waiters: [],
      message: {
        id: clientId,
        chat_id: this.host.chatId,
        sender_id: this.host.me() ?? '',
        body,
        client_id: clientId,
        seq: 0,
        created_at: Date.now(),
        edited_at: null,
        deleted_at: null,
        deleted_by: null,
        reactions: [],
        pending: true,
      },
    }
    this.entries.set(clientId, entry)
    this.publish()
    return this.enqueue(entry)
  }

  resend(clientId: string): Promise<ChatMessage> {
    const entry = this.entries.get(clientId)
    if (!entry || entry.message.pending || !entry.message.error) {
      return Promise.reject(new GoOnlineError('not_found', 'no failed message with this client id'))
    }
    entry.resends += 1
    entry.retries = 0
    this.setMessage(entry, undefined)
    return this.enqueue(entry)
  }

  discard(clientId: string): void {
    const entry = this.entries.get(clientId)
    if (!entry || entry.message.pending || !entry.message.error) return
    this.entries.delete(clientId)
    this.publish()
    if (this.idle) this.host.idle()
  }

  // ---- internals ------------------------------------------------------------------------

  /** Sends `entry` now, or behind the messages waiting to be sent again. */
  private enqueue(entry: Entry): Promise<ChatMessage> {
    const done = new Promise<ChatMessage>((resolve, reject) => entry.waiters.push({ resolve, reject }))
    if (this.blocked.length > 0 || this.draining || this.timer !== undefined) this.block(entry)
    else this.transmit(entry)
    return done
  }

  /** Puts `entry` among the blocked ones, in send order. */
  private block(entry: Entry): void {
    const order = [...this.entries.keys()]
    const rank = (e: Entry) => order.indexOf(e.clientId)
    const at = this.blocked.findIndex((e) => rank(e) > rank(entry))
    if (at < 0) this.blocked.push(entry)
    else this.blocked.splice(at, 0, entry)
  }

  /** Sends the first blocked message, unless one is on its way or the pause runs. */
  private drain(): void {
    if (this.draining || this.timer !== undefined) return
    const next = this.blocked.shift()
    if (!next) return
    this.draining = next
    this.transmit(next)
  }

  private transmit(entry: Entry): void {
    // The same `client_id` on a resend: the server stores the message once.
    const idempotencyKey = entry.resends === 0 ? `chat:${entry.clientId}` : `chat:${entry.clientId}:${entry.resends}`
    const params = { chat_id: this.host.chatId, client_id: entry.clientId, body: entry.message.body }
    this.host.call('chat.send', params, { idempotencyKey, whileOffline: 'queue' }).then(
      (result) => this.stored(entry, result as ChatMessageRow),
      (e: unknown) => this.refused(entry, asError(e)),
    )
  }

  private stored(entry: Entry, row: ChatMessageRow): void {
    if (this.draining === entry) this.draining = undefined
    this.entries.delete(entry.clientId)
    for (const listener of [...this.storedListeners]) {
      try {
        listener(row)
      } catch (e) {
        this.host.report(e)
      }
    }
    this.publish()
    const message: ChatMessage = { ...row, reactions: row.reactions ?? [], pending: false }
    for (const w of entry.waiters.splice(0)) w.resolve(message)
    this.drain()
    if (this.idle) this.host.idle()
  }

  private refused(entry: Entry, error: GoOnlineError): void {
    if (this.draining === entry) this.draining = undefined
    if (!this.entries.has(entry.clientId)) return
    if (TRANSIENT.has(error.code)) {
      // Stays pending; sent again with the same key after the pause.
      this.block(entry)
      const delay =
        error.code === 'rate_limited' && error.retryAfter !== undefined
          ? error.retryAfter * 1_000 + Math.floor(Math.random() * 250)
          : 500 + backoffDelay(entry.retries, { baseMs: 1_000, maxMs: 30_000 })
      entry.retries += 1
      clearTimeout(this.timer)
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.drain()
      }, delay)
      return
    }
    this.setMessage(entry, error)
    for (const w of entry.waiters.splice(0)) w.reject(error)
    this.drain()
  }

  /** Marks `entry` failed with `error`, or pending again. */
  private setMessage(entry: Entry, error: GoOnlineError | undefined): void {
    const m: ChatMessage = { ...entry.message, pending: error === undefined }
    if (error) m.error = error
    else delete m.error
    entry.message = m
    this.publish()
  }

  private publish(): void {
    this.localStore.set([...this.entries.values()].map((e) => e.message))
  }
}
