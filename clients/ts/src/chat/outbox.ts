//! Sending chat messages (docs/protocol.md §10.6): each gets a `client_id` on
//! the device, shows at once as pending, and is sent with the idempotency key
//! `chat:{client_id}` and `whileOffline: 'queue'`, so it waits for a
//! connection and is stored exactly once however often it is resent.

import type { CallFn } from '../calls.js'
import { GoOnlineError } from '../errors.js'
import type { ChatMessageRow } from '../methods.js'
import { randomId } from './ids.js'
import type { ChatMessage, MessageList } from './messages.js'

function asError(e: unknown): GoOnlineError {
  return e instanceof GoOnlineError ? e : new GoOnlineError('internal', e instanceof Error ? e.message : String(e))
}

export interface OutboxDeps {
  call: CallFn
  chatId: string
  list: MessageList
  me: () => string | null
  /** The server told us who we are (the sender of our own message). */
  learnMe: (userId: string) => void
  /** The list changed. */
  publish: () => void
}

export class Outbox {
  /** Resends per `client_id`: each attempt gets its own idempotency key. */
  private readonly attempts = new Map<string, number>()

  constructor(private readonly deps: OutboxDeps) {}

  send(body: string): Promise<ChatMessage> {
    const clientId = randomId()
    this.deps.list.addLocal({
      id: clientId,
      chat_id: this.deps.chatId,
      sender_id: this.deps.me() ?? '',
      body,
      client_id: clientId,
      seq: 0,
      created_at: Date.now(),
      edited_at: null,
      deleted_at: null,
      deleted_by: null,
      reactions: [],
      pending: true,
    })
    this.deps.publish()
    return this.transmit(clientId, body)
  }

  resend(clientId: string): Promise<ChatMessage> {
    const m = this.deps.list.get(clientId)
    if (!m || m.pending || !m.error) {
      return Promise.reject(new GoOnlineError('not_found', 'no failed message with this client id'))
    }
    this.deps.list.setLocal(clientId, undefined)
    this.deps.publish()
    return this.transmit(clientId, m.body)
  }

  discard(clientId: string): void {
    const m = this.deps.list.get(clientId)
    if (m && !m.pending && m.error && this.deps.list.removeLocal(clientId)) this.deps.publish()
  }

  private transmit(clientId: string, body: string): Promise<ChatMessage> {
    const attempt = this.attempts.get(clientId) ?? 0
    this.attempts.set(clientId, attempt + 1)
    // The same `client_id` on a resend: the server stores the message once.
    const idempotencyKey = attempt === 0 ? `chat:${clientId}` : `chat:${clientId}:${attempt}`
    const params = { chat_id: this.deps.chatId, client_id: clientId, body }
    return this.deps.call('chat.send', params, { idempotencyKey, whileOffline: 'queue' }).then(
      (result) => {
        this.attempts.delete(clientId)
        const row = result as ChatMessageRow
        this.deps.learnMe(row.sender_id)
        const m = this.deps.list.put(row, 'result')
        this.deps.publish()
        return m
      },
      (e: unknown) => {
        if (this.deps.list.setLocal(clientId, asError(e))) this.deps.publish()
        throw e
      },
    )
  }
}
