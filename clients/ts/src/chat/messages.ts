//! A chat room's message list: stored messages by id (from history pages, call
//! results and topic events, docs/protocol.md §10.6) and this client's own
//! messages not yet confirmed. No I/O: the room feeds it.
//!
//! The same message may arrive several times (a page and the events after it,
//! a `chat.send` reply and its `message.created` event), in any order. Merging
//! is monotonic so the order does not matter: a deletion is final, and of two
//! texts the one edited last wins. Reaction counts come from history pages and
//! move with `reaction.*` events; call results do not touch them (their event
//! follows, and counting both would count twice).

import type { GoOnlineError } from '../errors.js'
import type { ChatMessageRow, ReactionCount } from '../methods.js'

/** A message as a chat room shows it. */
export interface ChatMessage extends ChatMessageRow {
  /**
   * Sent from this client and not confirmed yet (it may be waiting for a
   * connection): `id` is its `client_id` and `seq` is 0 until the server
   * answers, then it is replaced by the stored message.
   */
  pending: boolean
  /** Sending failed for good (`pending` is false): offer `resend` or `discard`. */
  error?: GoOnlineError
}

/** How a row reached us: pages carry reaction counts as of their reading. */
export type RowSource = 'page' | 'result' | 'event'

function edited(m: ChatMessageRow): number {
  return m.edited_at ?? -1
}

/** Merges what we had of a message with a newer report of it. */
function merge(old: ChatMessage | undefined, row: ChatMessageRow, source: RowSource): ChatMessage {
  const incoming: ChatMessage = { ...row, reactions: row.reactions ?? [], pending: false }
  if (!old) return incoming
  const reactions = source === 'page' ? incoming.reactions : old.reactions
  if (old.deleted_at !== null && incoming.deleted_at === null) return old
  if (incoming.deleted_at !== null) return { ...incoming, body: '', reactions: [] }
  if (edited(old) > edited(incoming)) return { ...incoming, body: old.body, edited_at: old.edited_at, reactions }
  return { ...incoming, reactions }
}

function adjust(reactions: ReactionCount[], emoji: string, delta: 1 | -1, mine: boolean | undefined): ReactionCount[] {
  const out = reactions.map((r) => ({ ...r }))
  const at = out.findIndex((r) => r.emoji === emoji)
  if (at < 0) {
    if (delta > 0) out.push({ emoji, count: 1, mine: mine ?? false })
    return out
  }
  const r = out[at]!
  r.count += delta
  if (mine !== undefined) r.mine = mine
  if (r.count <= 0) out.splice(at, 1)
  return out
}

export class MessageList {
  private readonly rows = new Map<string, ChatMessage>()
  /** This client's unconfirmed messages (pending or failed), in send order. */
  private local: ChatMessage[] = []
  private view: ChatMessage[] | null = []

  /** Oldest → newest, then this client's unconfirmed ones. Same array until something changes. */
  snapshot(): ChatMessage[] {
    if (!this.view) {
      const stored = [...this.rows.values()].sort((a, b) => a.seq - b.seq)
      this.view = [...stored, ...this.local]
    }
    return this.view
  }

  get(id: string): ChatMessage | undefined {
    return this.rows.get(id) ?? this.local.find((m) => m.id === id)
  }

  /** The largest `seq` of a stored message (0: none). */
  newestSeq(): number {
    let max = 0
    for (const m of this.rows.values()) max = Math.max(max, m.seq)
    return max
  }

  /** Adds or updates a stored message; confirms the local one with its `client_id`. */
  put(row: ChatMessageRow, source: RowSource): ChatMessage {
    const merged = merge(this.rows.get(row.id), row, source)
    this.rows.set(row.id, merged)
    const at = this.local.findIndex((m) => m.client_id === row.client_id)
    if (at >= 0) this.local.splice(at, 1)
    this.view = null
    return merged
  }

  /**
   * Replaces the stored messages with the newest history page (after a
   * `gap`): messages older than the page are dropped (older pages are read
   * again on demand), those newer than it (events that came since) are kept.
   */
  resetTo(page: ChatMessageRow[]): void {
    const old = new Map(this.rows)
    this.rows.clear()
    let newest = 0
    for (const row of page) {
      this.rows.set(row.id, merge(old.get(row.id), row, 'page'))
      newest = Math.max(newest, row.seq)
    }
    for (const m of old.values()) {
      if (m.seq > newest && !this.rows.has(m.id)) this.rows.set(m.id, m)
    }
    for (const row of page) {
      const at = this.local.findIndex((m) => m.client_id === row.client_id)
      if (at >= 0) this.local.splice(at, 1)
    }
    this.view = null
  }

  addLocal(message: ChatMessage): void {
    this.local.push(message)
    this.view = null
  }

  /** Marks a local message as failed (or, with `error` undefined, pending again). */
  setLocal(clientId: string, error: GoOnlineError | undefined): boolean {
    const at = this.local.findIndex((m) => m.client_id === clientId)
    if (at < 0) return false
    const m: ChatMessage = { ...this.local[at]!, pending: error === undefined }
    if (error) m.error = error
    else delete m.error
    this.local[at] = m
    this.view = null
    return true
  }

  removeLocal(clientId: string): boolean {
    const at = this.local.findIndex((m) => m.client_id === clientId)
    if (at < 0) return false
    this.local.splice(at, 1)
    this.view = null
    return true
  }

  /**
   * Applies a topic event's `data` (`message.*`, `reaction.*`) to messages we
   * hold. `message.created` is applied only when `accept(seq)` says the
   * message belongs to the loaded range. Returns whether anything changed.
   */
  applyEvent(data: Record<string, unknown>, at: number, me: string | null, accept: (seq: number) => boolean): boolean {
    const type = data.type
    if (type === 'message.created') {
      const m = data.message as Partial<ChatMessageRow> | undefined
      if (!m || typeof m.id !== 'string' || typeof m.seq !== 'number') return false
      if (!this.rows.has(m.id) && !accept(m.seq)) return false
      // A message deleted since: its stored events were blanked (`redacted`).
      const redacted = data.redacted === true
      this.put(
        {
          id: m.id,
          chat_id: m.chat_id ?? '',
          sender_id: m.sender_id ?? '',
          body: redacted ? '' : (m.body ?? ''),
          client_id: m.client_id ?? '',
          seq: m.seq,
          created_at: m.created_at ?? at,
          edited_at: null,
          deleted_at: redacted ? at : null,
          deleted_by: null,
          reactions: [],
        },
        'event',
      )
      return true
    }
    const id = data.message_id
    if (typeof id !== 'string') return false
    const old = this.rows.get(id)
    if (!old) return false
    let next: ChatMessage | undefined
    switch (type) {
      case 'message.edited': {
        const editedAt = typeof data.edited_at === 'number' ? data.edited_at : at
        if (old.deleted_at !== null || data.redacted === true || editedAt < edited(old)) return false
        next = { ...old, body: String(data.body ?? ''), edited_at: editedAt }
        break
      }
      case 'message.deleted':
        next = {
          ...old,
          body: '',
          reactions: [],
          deleted_at: typeof data.deleted_at === 'number' ? data.deleted_at : at,
          deleted_by: typeof data.deleted_by === 'string' ? data.deleted_by : null,
        }
        break
      case 'reaction.added':
      case 'reaction.removed': {
        if (old.deleted_at !== null || typeof data.emoji !== 'string') return false
        const added = type === 'reaction.added'
        const mine = me !== null && data.user_id === me ? added : undefined
        next = { ...old, reactions: adjust(old.reactions, data.emoji, added ? 1 : -1, mine) }
        break
      }
      default:
        return false
    }
    this.rows.set(id, next)
    this.view = null
    return true
  }
}
