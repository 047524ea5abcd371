//! A chat room's stored messages by id, from history pages, call results and
//! topic events (docs/protocol.md §10.6). No I/O: the room feeds it. This
//! client's unconfirmed messages are the chat's outbox's (`outbox.ts`).
//!
//! The same message may arrive several times (a page and the events after it,
//! a `chat.send` reply and its `message.created` event), in any order. Merging
//! is monotonic so the order does not matter: a deletion is final, and of two
//! texts the one edited last wins.
//!
//! Reaction counts are the one thing that adds up, so each event must count
//! once. A page's counts are those as of its `topic_seq` (the server reads a
//! page in one snapshot), so a row remembers the `topic_seq` of the page that
//! supplied it and ignores events up to there, which the page shows already.
//! Events that arrive while a page is being read and are past its `topic_seq`
//! are journaled and applied again on top of the page's rows: the page
//! replaces what they had done (or finds rows they could not reach yet, such
//! as an older page's messages). Call results never touch counts (their event
//! follows).

import type { ChatMessageRow, ReactionCount } from '../methods.js'
import type { GoOnlineError } from '../errors.js'

/** A message as a chat room shows it. */
export interface ChatMessage extends ChatMessageRow {
  /**
   * Sent from this client and not confirmed yet (it may be waiting for a
   * connection, or to be retried after the server asked to slow down): `id`
   * is its `client_id` and `seq` is 0 until the server answers, then it is
   * replaced by the stored message.
   */
  pending: boolean
  /** Sending failed for good (`pending` is false): offer `resend` or `discard`. */
  error?: GoOnlineError
}

/** How a row reached us: pages carry reaction counts as of their reading. */
export type RowSource = 'page' | 'result' | 'event'

interface Journaled {
  seq: number
  at: number
  data: Record<string, unknown>
  me: string | null
}

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

/** The message an event is about (`message.created`: its message). */
function subjectOf(data: Record<string, unknown>): string | undefined {
  if (data.type === 'message.created') {
    const id = (data.message as { id?: unknown } | undefined)?.id
    return typeof id === 'string' ? id : undefined
  }
  return typeof data.message_id === 'string' ? data.message_id : undefined
}

export class MessageList {
  private readonly rows = new Map<string, ChatMessage>()
  /** Per row supplied by a page: that page's `topic_seq`. */
  private readonly asOf = new Map<string, number>()
  /** Events seen while a page is being read (see the module comment). */
  private journal: Journaled[] = []
  private reading = 0
  private view: ChatMessage[] | null = []

  /** Oldest → newest. Same array until something changes. */
  snapshot(): ChatMessage[] {
    this.view ??= [...this.rows.values()].sort((a, b) => a.seq - b.seq)
    return this.view
  }

  get(id: string): ChatMessage | undefined {
    return this.rows.get(id)
  }

  /** The largest `seq` of a stored message (0: none). */
  newestSeq(): number {
    let max = 0
    for (const m of this.rows.values()) max = Math.max(max, m.seq)
    return max
  }

  /** A page read starts: events from now on are journaled until it ends. */
  beginRead(): void {
    this.reading += 1
  }

  /** A page read ended (applied or not). */
  endRead(): void {
    this.reading = Math.max(0, this.reading - 1)
    if (this.reading === 0) this.journal = []
  }

  /** Adds or updates a stored message from a call result or an event. */
  put(row: ChatMessageRow, source: Exclude<RowSource, 'page'>): ChatMessage {
    const merged = merge(this.rows.get(row.id), row, source)
    this.rows.set(row.id, merged)
    this.view = null
    return merged
  }

  /**
   * Applies a history page read at `topicSeq`. With `newest` (the newest
   * page, read again after a `gap`), messages older than it are dropped
   * (older pages are read again on demand) and those after it (events that
   * came since) are kept.
   */
  applyPage(page: ChatMessageRow[], topicSeq: number, newest: boolean): void {
    const ids = new Set(page.map((r) => r.id))
    if (newest) {
      for (const [id, m] of this.rows) {
        if (m.seq <= topicSeq && !ids.has(id)) {
          this.rows.delete(id)
          this.asOf.delete(id)
        }
      }
    }
    for (const row of page) {
      this.rows.set(row.id, merge(this.rows.get(row.id), row, 'page'))
      this.asOf.set(row.id, topicSeq)
    }
    // What happened after the page was read, and reached us before it.
    for (const e of this.journal) {
      const id = subjectOf(e.data)
      if (e.seq > topicSeq && id !== undefined && ids.has(id)) this.change(id, e.data, e.at, e.me)
    }
    this.view = null
  }

  /** Forgets every stored message (the chat's topic started over). */
  clear(): void {
    this.rows.clear()
    this.asOf.clear()
    this.journal = []
    this.view = null
  }

  /**
   * Applies a topic event's `data` (`message.*`, `reaction.*`) at `seq` to
   * messages we hold. `message.created` is applied only when `accept(seq)`
   * says the message belongs to the loaded range. Returns whether anything
   * changed.
   */
  applyEvent(data: Record<string, unknown>, seq: number, at: number, me: string | null, accept: (seq: number) => boolean): boolean {
    if (this.reading > 0) this.journal.push({ seq, at, data, me })
    if (data.type === 'message.created') {
      const m = data.message as Partial<ChatMessageRow> | undefined
      if (!m || typeof m.id !== 'string' || typeof m.seq !== 'number') return false
      if (this.rows.has(m.id) ? this.shown(m.id, seq) : !accept(m.seq)) return false
      // A message deleted since: its stored events were blanked (`redacted`);
      // its `message.deleted` follows and says when.
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
          deleted_at: null,
          deleted_by: null,
          reactions: [],
        },
        'event',
      )
      return true
    }
    const id = data.message_id
    if (typeof id !== 'string' || this.shown(id, seq)) return false
    return this.change(id, data, at, me)
  }

  /** Whether the page that supplied `id` shows the event at `seq` already. */
  private shown(id: string, seq: number): boolean {
    const asOf = this.asOf.get(id)
    return asOf !== undefined && seq <= asOf
  }

  /** Applies a `message.edited`/`deleted` or `reaction.*` event to the row `id`. */
  private change(id: string, data: Record<string, unknown>, at: number, me: string | null): boolean {
    const old = this.rows.get(id)
    if (!old) return false
    let next: ChatMessage
    switch (data.type) {
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
        const added = data.type === 'reaction.added'
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
