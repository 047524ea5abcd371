//! Chat helpers (docs/protocol.md §10.6), as `client.chat`: the chat list with
//! unread counts, channels, direct conversations, and live rooms
//! (`chat/room.ts`). Built on `call` and topics only.
//!
//! It keeps one room per chat (refcounted, with a linger) and one outbox per
//! chat (`chat/outbox.ts`): the messages being sent outlive the rooms, so a
//! room opened again shows them.

import type { CallFn } from './calls.js'
import { randomId } from './chat/ids.js'
import { Outbox } from './chat/outbox.js'
import { ChatRoom, type RoomOptions } from './chat/room.js'
import type { ChatInfo, ChatSummary } from './methods.js'
import type { ReadableStore } from './store.js'
import type { Topics } from './topics.js'

export { ChatRoom, type RoomOptions, type RoomState } from './chat/room.js'
export { TYPING_IDLE_MS } from './chat/room-presence.js'
export type { ChatMessage } from './chat/messages.js'

export interface ChatOptions {
  /** How long a room stays open after its last `close()` (ms). Default 1 000. */
  lingerMs?: number
}

export class Chat {
  /** Open rooms (lingering ones included), by chat id. */
  private readonly rooms = new Map<string, ChatRoom>()
  /** Outboxes by chat id, while a room is open or a message is pending or failed. */
  private readonly outboxes = new Map<string, Outbox>()
  private readonly lingerMs: number

  constructor(
    private readonly call: CallFn,
    private readonly topics: Topics,
    /** The signed-in user (`client.user`): rooms tell one's own messages and presence from others' by it. */
    private readonly user: ReadableStore<string | null>,
    opts: ChatOptions = {},
  ) {
    this.lingerMs = opts.lingerMs ?? 1_000
  }

  /**
   * The business's channels and the caller's direct chats, each with `topic`,
   * `last_seq`, `last_read_seq` and `unread` (others' messages after the read
   * mark, counted up to 1,000).
   */
  async list(businessId: string): Promise<ChatSummary[]> {
    const r = (await this.call('chat.list', { business_id: businessId })) as { chats: ChatSummary[] }
    return r.chats
  }

  /** Creates a channel (`name`: 1–64 of `[a-z0-9_-]`; agents and above). A taken name is `conflict`. */
  createChannel(businessId: string, name: string): Promise<ChatInfo> {
    return this.call('chat.channel.create', { business_id: businessId, name }, { idempotencyKey: `channel:${randomId()}` }) as Promise<ChatInfo>
  }

  /** The direct conversation with another member of the business (created on first use). */
  openDirect(businessId: string, userId: string): Promise<ChatInfo> {
    return this.call('chat.direct.open', { business_id: businessId, user_id: userId }, { idempotencyKey: `direct:${randomId()}` }) as Promise<ChatInfo>
  }

  /**
   * The live room on a chat (a `ChatInfo` or `ChatSummary`, or just its `id`
   * and `topic`). Rooms are shared: asking again for the same chat gives the
   * same room (its `opts` are those it was opened with), and each call must
   * be matched by one `close()`. The room leaves the chat 1 s after the last
   * `close()` unless it is asked for again, so a quick remount keeps it.
   */
  room(chat: { id: string; topic: string }, opts?: RoomOptions): ChatRoom {
    const open = this.rooms.get(chat.id)
    if (open) {
      open.retain()
      return open
    }
    const report = (e: unknown) => this.topics.report(e)
    const room = new ChatRoom(
      chat,
      {
        call: this.call,
        topics: this.topics,
        user: this.user,
        report,
        outbox: this.outbox(chat.id),
        lingerMs: this.lingerMs,
        gone: (r) => {
          if (this.rooms.get(r.id) !== r) return
          this.rooms.delete(r.id)
          if (this.outboxes.get(r.id)?.idle) this.outboxes.delete(r.id)
        },
      },
      opts,
    )
    this.rooms.set(chat.id, room)
    return room
  }

  private outbox(chatId: string): Outbox {
    let outbox = this.outboxes.get(chatId)
    if (!outbox) {
      outbox = new Outbox({
        call: this.call,
        chatId,
        me: () => this.user?.get() ?? null,
        report: (e) => this.topics.report(e),
        // Kept while a room shows it; otherwise it has nothing left to keep.
        idle: () => {
          if (!this.rooms.has(chatId)) this.outboxes.delete(chatId)
        },
      })
      this.outboxes.set(chatId, outbox)
    }
    return outbox
  }
}
