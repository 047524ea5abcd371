//! Chat helpers (docs/protocol.md §10.6), as `client.chat`: the chat list with
//! unread counts, channels, direct conversations, and live rooms
//! (`chat/room.ts`). Built on `call` and topics only.

import type { CallFn } from './calls.js'
import { randomId } from './chat/ids.js'
import { ChatRoom, type RoomOptions } from './chat/room.js'
import type { ChatInfo, ChatSummary } from './methods.js'
import type { ReadableStore } from './store.js'
import type { Topics } from './topics.js'

export { ChatRoom, type RoomOptions, type RoomState } from './chat/room.js'
export { TYPING_IDLE_MS } from './chat/room-presence.js'
export type { ChatMessage } from './chat/messages.js'

export class Chat {
  constructor(
    private readonly call: CallFn,
    private readonly topics: Topics,
    /** The signed-in user (`client.user`): rooms tell one's own messages and presence from others' by it. */
    private readonly user: ReadableStore<string | null>,
  ) {}

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
   * Opens a live room on a chat (a `ChatInfo` or `ChatSummary`, or just its
   * `id` and `topic`). Call `close()` when it is no longer shown.
   */
  room(chat: { id: string; topic: string }, opts?: RoomOptions): ChatRoom {
    return new ChatRoom(chat, { call: this.call, topics: this.topics, user: this.user, report: (e) => this.topics.report(e) }, opts)
  }
}
