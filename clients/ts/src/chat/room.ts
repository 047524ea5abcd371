//! A chat room (docs/protocol.md §10.6): the message list of one chat, kept
//! live, with sending (the chat's outbox, `outbox.ts`), editing, reactions,
//! read marks, typing and "who is here" (`room-presence.ts`).
//!
//! Joining follows the protocol's rule: read the newest history page, then
//! subscribe to the chat's topic with `since = topic_seq`; a message in both
//! is matched by id. After a `gap` the newest page is read again; when the
//! server's topic was reset, the room forgets what it showed and joins again.
//!
//! `client.chat.room()` shares one room per chat, refcounted: `close()`
//! releases it, and the last release shuts it `lingerMs` later unless it is
//! taken again (React StrictMode's unmount/mount keeps it, and its history).

import { backoffDelay } from '../backoff.js'
import type { CallFn } from '../calls.js'
import { GoOnlineError } from '../errors.js'
import type { ChatMessageRow, HistoryPage } from '../methods.js'
import { ValueStore, type ReadableStore } from '../store.js'
import type { Topics } from '../topics.js'
import type { Subscription, TopicEvent } from '../topics/types.js'
import { randomId } from './ids.js'
import { MessageList, type ChatMessage } from './messages.js'
import type { Outbox } from './outbox.js'
import { RoomPresence } from './room-presence.js'

export interface RoomOptions {
  /** Messages per history page, 1–100. Default 50. */
  pageSize?: number
}

export interface RoomState {
  /** The newest page is being read (at the start, and again after a `gap`). */
  loading: boolean
  /** Older messages exist: `loadOlder()` reads the next page. */
  hasOlder: boolean
  /** `loadOlder()` is running. */
  loadingOlder: boolean
  /**
   * Why the room cannot show the chat: a refusal (`forbidden`, `not_found`),
   * the subscription's end (`revoked`), or `closed` once the room was shut
   * (released by its last holder, and not taken again within the linger);
   * while retrying after a network failure, that failure. `null` when all is
   * well.
   */
  error: GoOnlineError | null
}

/** What a room needs from the client. */
export interface RoomDeps {
  call: CallFn
  topics: Topics
  /** The signed-in user (to tell one's own messages and presence from others'). */
  user: ReadableStore<string | null>
  report: (e: unknown) => void
  /** The chat's outgoing messages, shared by its rooms. */
  outbox: Outbox
  /** How long the room stays open after its last `close()`. */
  lingerMs: number
  /** The room shut down. */
  gone: (room: ChatRoom) => void
}

/** How the newest page is read: to join, after a `gap`, after the topic started over. */
type LoadMode = 'join' | 'gap' | 'reset'

/** Errors after which reading the history again is pointless. */
const FINAL = new Set(['forbidden', 'unauthorized', 'not_found', 'invalid_argument', 'unknown_topic', 'closed'])

function sameState(a: RoomState, b: RoomState): boolean {
  return a.loading === b.loading && a.hasOlder === b.hasOlder && a.loadingOlder === b.loadingOlder && a.error === b.error
}

export class ChatRoom {
  readonly id: string
  readonly topic: string
  /** Oldest → newest, then this client's messages not confirmed yet (`pending`, or failed with `error`). */
  readonly messages: ReadableStore<ChatMessage[]>
  /**
   * Others' messages after this user's read mark, not deleted, among the
   * loaded ones (the newest page holds `pageSize`): for a chat's exact count
   * before opening it, use `chat.list`.
   */
  readonly unread: ReadableStore<number>
  /** Other users typing here (by user id; this user's other devices are left out too). */
  readonly typingUsers: ReadableStore<string[]>
  /** Other users with this chat open (by user id). */
  readonly here: ReadableStore<string[]>
  readonly state: ReadableStore<RoomState>
  /**
   * Resolves once the newest page is shown and the room follows the chat
   * live; rejects with a `GoOnlineError` if the chat cannot be read
   * (`forbidden`, `not_found`) or the room is closed first. Network failures
   * are retried meanwhile.
   */
  readonly ready: Promise<void>

  private readonly list = new MessageList()
  private readonly messagesStore: ValueStore<ChatMessage[]>
  private readonly unreadStore: ValueStore<number>
  private readonly stateStore: ValueStore<RoomState>
  private readonly presence: RoomPresence
  private readonly outbox: Outbox
  private readonly pageSize: number
  private sub: Subscription | undefined
  private readonly unlisten: Array<() => void> = []
  /** Holders (`client.chat.room()` calls not yet matched by `close()`). */
  private refs = 1
  private lingerTimer: ReturnType<typeof setTimeout> | undefined
  /** `before` for the next older page; `null`: everything older is loaded. */
  private nextBefore: number | null = null
  private readMark = 0
  private shut = false
  /** Bumped by each read of the newest page: answers to older reads are moot. */
  private loadGen = 0
  private older: Promise<boolean> | undefined
  private learnedMe: string | null = null
  /** What `messages` was last made of (stored, local). */
  private viewOf: [ChatMessage[] | null, ChatMessage[] | null] = [null, null]
  private resolveReady!: () => void
  private rejectReady!: (e: unknown) => void

  constructor(
    chat: { id: string; topic: string },
    private readonly deps: RoomDeps,
    opts: RoomOptions = {},
  ) {
    this.id = chat.id
    this.topic = chat.topic
    this.pageSize = opts.pageSize ?? 50
    const report = deps.report
    this.messages = this.messagesStore = new ValueStore<ChatMessage[]>([], report)
    this.unread = this.unreadStore = new ValueStore(0, report)
    this.state = this.stateStore = new ValueStore<RoomState>({ loading: true, hasOlder: false, loadingOlder: false, error: null }, report, sameState)
    const me = () => this.me()
    this.presence = new RoomPresence(me, report)
    this.typingUsers = this.presence.typingUsers
    this.here = this.presence.here
    this.outbox = deps.outbox
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    // Rejections reach those who await `ready`; nobody else is warned about them.
    this.ready.catch(() => {})
    // `?.`: tolerate a client built without the user store (the type requires it).
    const userUnsub = deps.user?.subscribe(() => {
      this.refreshUnread()
      this.presence.refresh()
    })
    if (userUnsub) this.unlisten.push(userUnsub)
    this.unlisten.push(
      this.outbox.local.subscribe(() => this.publish()),
      this.outbox.onStored((row) => {
        this.learnedMe ??= row.sender_id
        this.list.put(row, 'result')
      }),
    )
    this.publish()
    void this.load('join')
  }

  /** Reads the next older page; resolves with false when there is none. */
  loadOlder(): Promise<boolean> {
    if (this.older) return this.older
    const before = this.nextBefore
    if (this.shut || before === null) return Promise.resolve(false)
    const gen = this.loadGen
    this.patchState({ loadingOlder: true })
    const run = async (): Promise<boolean> => {
      // Events for these messages may come before the page: it applies them.
      this.list.beginRead()
      try {
        const page = (await this.deps.call('chat.history', { chat_id: this.id, before, limit: this.pageSize })) as HistoryPage
        // The newest page was read again meanwhile: this one may not join it.
        if (this.shut || gen !== this.loadGen) return false
        this.list.applyPage(page.messages, page.topic_seq, false)
        this.nextBefore = page.next_before
        this.publish()
        return page.messages.length > 0
      } finally {
        this.list.endRead()
        this.older = undefined
        this.patchState({ loadingOlder: false, hasOlder: this.nextBefore !== null })
      }
    }
    this.older = run()
    return this.older
  }

  /**
   * Sends a message. It shows at once in `messages` as `pending` (its id is
   * its `client_id`) and is replaced by the stored message when the server
   * confirms. While offline it waits for the connection and is delivered
   * exactly once. If it fails for good (rejecting with the error) it stays,
   * with `error`, until `resend` or `discard`. Ends `typing`.
   */
  send(body: string): Promise<ChatMessage> {
    if (this.shut) return Promise.reject(new GoOnlineError('closed', 'the chat room is closed'))
    this.presence.typing(false)
    return this.outbox.send(body)
  }

  /** Sends a failed message again (same `client_id`: it is stored at most once). Works from any room on the chat. */
  resend(clientId: string): Promise<ChatMessage> {
    return this.outbox.resend(clientId)
  }

  /** Removes a failed message from the list. */
  discard(clientId: string): void {
    this.outbox.discard(clientId)
  }

  /** Changes the text of one's own message. */
  async edit(messageId: string, body: string): Promise<ChatMessage> {
    return this.applyResult(await this.deps.call('chat.edit', { message_id: messageId, body }, this.writeOpts('edit')))
  }

  /** Deletes a message (one's own, or any as an owner or admin): it stays as a tombstone (`deleted_at`, empty body). */
  async delete(messageId: string): Promise<ChatMessage> {
    return this.applyResult(await this.deps.call('chat.delete', { message_id: messageId }, this.writeOpts('delete')))
  }

  /**
   * Adds (`on`, the default) or removes this user's reaction; resolves with
   * whether anything changed. The counts in `messages` move when the server's
   * event arrives (counting the answer too would count twice).
   */
  async react(messageId: string, emoji: string, on = true): Promise<boolean> {
    const r = (await this.deps.call('chat.react', { message_id: messageId, emoji, on }, this.writeOpts('react'))) as { changed: boolean }
    return r.changed
  }

  /**
   * Moves this user's read mark to `seq` (default: the newest event seen), if
   * that is forward. `unread` drops at once; the server keeps the mark for
   * the user's other devices and `chat.list`.
   */
  async markRead(seq?: number): Promise<void> {
    const target = seq ?? Math.max(this.sub?.lastSeq ?? 0, this.list.newestSeq())
    if (target <= this.readMark) return
    const before = this.readMark
    this.readMark = target
    this.refreshUnread()
    try {
      const r = (await this.deps.call('chat.read', { chat_id: this.id, seq: target }, this.writeOpts('read'))) as { last_read_seq: number }
      if (r.last_read_seq > this.readMark) {
        this.readMark = r.last_read_seq
        this.refreshUnread()
      }
    } catch (e) {
      if (this.readMark === target) {
        this.readMark = before
        this.refreshUnread()
      }
      throw e
    }
  }

  /**
   * Says whether this user is typing (presence `{here: true, typing: true}`).
   * It turns itself off after 5 s unless called again, and when a message is sent.
   */
  typing(on: boolean): void {
    if (!this.shut) this.presence.typing(on)
  }

  /**
   * Releases this holder's use of the room (match each `client.chat.room()`
   * with one `close()`). After the last one the room stays open `lingerMs`
   * (1 s) in case it is taken again, then leaves: presence is cleared, the
   * topic unsubscribed. Sends already made still complete, and pending or
   * failed messages show again in the next room on this chat.
   */
  close(): void {
    if (this.shut || this.refs === 0) return
    this.refs -= 1
    if (this.refs > 0) return
    clearTimeout(this.lingerTimer)
    this.lingerTimer = setTimeout(() => this.shutDown(), this.deps.lingerMs)
  }

  /** Another holder takes the room (`client.chat.room()` for the same chat). */
  retain(): void {
    this.refs += 1
    clearTimeout(this.lingerTimer)
    this.lingerTimer = undefined
  }

  private shutDown(): void {
    this.lingerTimer = undefined
    if (this.shut || this.refs > 0) return
    this.shut = true
    this.loadGen += 1
    for (const unlisten of this.unlisten.splice(0)) unlisten()
    this.dropSubscription()
    this.presence.close()
    const error = new GoOnlineError('closed', 'the chat room is closed')
    this.patchState({ loading: false, loadingOlder: false, error })
    this.rejectReady(error)
    this.deps.gone(this)
  }

  // ---- internals ------------------------------------------------------------------------

  private me(): string | null {
    return this.deps.user?.get() ?? this.learnedMe
  }

  private writeOpts(kind: string) {
    // A key per attempt: safe to queue while offline and to resend after a drop.
    return { idempotencyKey: `${kind}:${randomId()}`, whileOffline: 'queue' as const }
  }

  private applyResult(result: unknown): ChatMessage {
    const row = result as ChatMessageRow
    if (!this.list.get(row.id)) return { ...row, pending: false }
    const m = this.list.put(row, 'result')
    this.publish()
    return m
  }

  /** Reads the newest page (retrying network failures), then follows the topic from it. */
  private async load(mode: LoadMode): Promise<void> {
    const gen = ++this.loadGen
    this.patchState({ loading: true })
    for (let attempt = 0; ; attempt++) {
      let page: HistoryPage
      // Events that come while the page is read (after a gap, the replay goes on).
      this.list.beginRead()
      try {
        page = (await this.deps.call('chat.history', { chat_id: this.id, limit: this.pageSize })) as HistoryPage
      } catch (e) {
        this.list.endRead()
        if (this.shut || gen !== this.loadGen) return
        const error = e instanceof GoOnlineError ? e : new GoOnlineError('internal', String(e))
        if (FINAL.has(error.code)) {
          this.patchState({ loading: false, error })
          this.rejectReady(error)
          return
        }
        this.patchState({ error })
        await new Promise<void>((r) => setTimeout(r, 200 + backoffDelay(attempt, { baseMs: 500, maxMs: 5_000 })))
        if (this.shut || gen !== this.loadGen) return
        continue
      }
      if (this.shut || gen !== this.loadGen) {
        this.list.endRead()
        return
      }
      this.list.applyPage(page.messages, page.topic_seq, true)
      this.list.endRead()
      this.nextBefore = page.next_before
      // After a reset the old mark was about another topic's numbers.
      this.readMark = mode === 'reset' ? page.last_read_seq : Math.max(this.readMark, page.last_read_seq)
      this.publish()
      this.patchState({ loading: false, error: null, hasOlder: this.nextBefore !== null })
      if (!this.sub) this.follow(page.topic_seq)
      this.resolveReady()
      return
    }
  }

  private follow(since: number): void {
    this.sub = this.deps.topics.subscribe(
      this.topic,
      {
        since,
        // Missed events are gone: show the newest page again.
        onGap: () => void this.load('gap'),
        // The server's topic starts over: what we show is about the old one.
        // Join again from its history (our unconfirmed messages stay).
        onReset: () => {
          this.dropSubscription()
          this.list.clear()
          this.nextBefore = null
          this.readMark = 0
          this.publish()
          void this.load('reset')
        },
        onEnd: (_reason, error) => {
          this.dropSubscription()
          this.patchState({ error })
        },
      },
      (event) => this.onEvent(event),
    )
    this.presence.attach(this.sub)
  }

  private dropSubscription(): void {
    this.presence.detach()
    const sub = this.sub
    this.sub = undefined
    // Our presence goes with it.
    sub?.unsubscribe()
  }

  private onEvent(event: TopicEvent): void {
    // A new message joins the list unless older pages are still unread below it.
    const accept = (seq: number) => this.nextBefore === null || seq >= this.nextBefore
    if (this.list.applyEvent(event.data, event.seq, event.at, this.me(), accept)) this.publish()
  }

  /** Stored messages, then the outbox's not yet among them (an event may confirm one before its reply). */
  private view(): ChatMessage[] {
    const stored = this.list.snapshot()
    const local = this.outbox.local.get()
    if (stored === this.viewOf[0] && local === this.viewOf[1]) return this.messagesStore.get()
    this.viewOf = [stored, local]
    if (local.length === 0) return stored
    const confirmed = new Set(stored.map((m) => m.client_id))
    return [...stored, ...local.filter((m) => !confirmed.has(m.client_id))]
  }

  private publish(): void {
    this.messagesStore.set(this.view())
    this.refreshUnread()
  }

  private refreshUnread(): void {
    const me = this.me()
    let unread = 0
    for (const m of this.list.snapshot()) {
      if (m.seq > this.readMark && m.sender_id !== me && m.deleted_at === null) unread++
    }
    this.unreadStore.set(unread)
  }

  private patchState(patch: Partial<RoomState>): void {
    this.stateStore.set({ ...this.stateStore.get(), ...patch })
  }
}
