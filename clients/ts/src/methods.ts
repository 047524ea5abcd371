//! The method → params/result map that types `client.call`. Applications and
//! plugins add their own operations by declaration merging:
//!
//! ```ts
//! declare module '@goonline/client' {
//!   interface Methods {
//!     'orders.create': { params: { business_id: string; lines: Line[] }; result: Order }
//!   }
//! }
//! ```
//!
//! The shapes below are those of docs/protocol.md §9–§10 for the operations
//! the SDK's own helpers use.

/** Tokens handed out by sign-in operations. */
export interface TokenPair {
  access_token: string
  refresh_token: string
  expires_in: number
  token_type: 'Bearer'
}

/** An account as the API shows it. */
export interface UserView {
  id: string
  email: string | null
  display_name: string
  platform_admin: boolean
  created_at: number
}

export type Role = 'owner' | 'admin' | 'agent' | 'viewer'

export interface Business {
  id: string
  name: string
  role?: Role
  created_by: string
  onboarding_agent: string | null
  verified: boolean
  created_at: number
}

export interface ChatInfo {
  id: string
  business_id: string
  kind: 'channel' | 'direct' | (string & {})
  name: string | null
  topic: string
  member_ids: string[] | null
  created_by: string
  created_at: number
}

export interface ChatSummary extends ChatInfo {
  last_seq: number
  last_read_seq: number
  unread: number
}

export interface ReactionCount {
  emoji: string
  count: number
  mine: boolean
}

/** A stored chat message (`chat.send`, `chat.history`). */
export interface ChatMessageRow {
  id: string
  chat_id: string
  sender_id: string
  body: string
  client_id: string
  seq: number
  created_at: number
  edited_at: number | null
  deleted_at: number | null
  deleted_by: string | null
  reactions: ReactionCount[]
}

export interface HistoryPage {
  chat_id: string
  topic: string
  topic_seq: number
  last_read_seq: number
  /** Newest first. */
  messages: ChatMessageRow[]
  next_before: number | null
}

export interface StoredEvent {
  topic: string
  seq: number
  at: number
  data: Record<string, unknown>
}

export interface EventsPage {
  topic: string
  events: StoredEvent[]
  last_seq: number
  next_after: number
  more: boolean
  gap?: { from: number; to: number }
}

type Signed = TokenPair & { user: UserView }

/** Every operation `client.call` knows the types of. Extend it by declaration merging. */
export interface Methods {
  'auth.register': { params: { email: string; password: string; display_name: string }; result: Signed }
  'auth.login': { params: { email: string; password: string }; result: Signed }
  'auth.refresh': { params: { refresh_token: string }; result: Signed }
  'auth.logout': { params: undefined; result: unknown }
  'me.get': { params: undefined; result: UserView }
  'business.create': { params: { name: string; owner_email?: string }; result: Business }
  'business.list': { params: undefined; result: { businesses: Business[] } }
  'business.get': { params: { business_id: string }; result: Business }
  'chat.channel.create': { params: { business_id: string; name: string }; result: ChatInfo }
  'chat.direct.open': { params: { business_id: string; user_id: string }; result: ChatInfo }
  'chat.list': { params: { business_id: string }; result: { chats: ChatSummary[] } }
  'chat.send': { params: { chat_id: string; client_id: string; body: string }; result: ChatMessageRow }
  'chat.edit': { params: { message_id: string; body: string }; result: ChatMessageRow }
  'chat.delete': { params: { message_id: string }; result: ChatMessageRow }
  'chat.react': {
    params: { message_id: string; emoji: string; on?: boolean }
    result: { message_id: string; changed: boolean; reactions: ReactionCount[] }
  }
  'chat.history': { params: { chat_id: string; before?: number; limit?: number }; result: HistoryPage }
  'chat.read': { params: { chat_id: string; seq: number }; result: { chat_id: string; last_read_seq: number; unread: number } }
  'topic.events': { params: { topic: string; after?: number; limit?: number }; result: EventsPage }
}

export type MethodName = keyof Methods
export type ParamsOf<M extends MethodName> = Methods[M] extends { params: infer P } ? P : never
export type ResultOf<M extends MethodName> = Methods[M] extends { result: infer R } ? R : never
