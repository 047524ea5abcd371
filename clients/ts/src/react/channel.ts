//! `useChannel`: a chat room (docs/protocol.md §10.6) as React state — the
//! message list, unread count, who is typing and who is here — with its
//! actions (send, edit, delete, react, load older pages, mark read, typing).
//!
//! `client.chat.room()` makes a new room each time and reads the chat's newest
//! history page; rooms are therefore shared here, by client and chat id, with
//! a refcount and a short linger (like documents and topics in the core), so
//! StrictMode's double mount, a quick remount, and two components showing the
//! same chat use one room and one history read.

import { useCallback, useEffect, useRef, useState } from 'react'
import type { ChatMessage, ChatRoom, RoomOptions, RoomState } from '../chat.js'
import type { Client } from '../client.js'
import type { GoOnlineError } from '../errors.js'
import type { CallOutcome } from './call.js'
import { useClient } from './context.js'
import { useStore } from './store.js'

/** A released room stays open this long in case it is used again (ms). */
const ROOM_LINGER_MS = 1_000

interface SharedRoom {
  room: ChatRoom
  refs: number
  timer: ReturnType<typeof setTimeout> | undefined
}

/** Open rooms per client, by chat id and topic. */
const rooms = /* @__PURE__ */ new WeakMap<Client, Map<string, SharedRoom>>()

const roomKey = (chat: { id: string; topic: string }) => `${chat.id}\n${chat.topic}`

function acquireRoom(client: Client, chat: { id: string; topic: string }, opts: RoomOptions | undefined): ChatRoom {
  let open = rooms.get(client)
  if (!open) rooms.set(client, (open = new Map()))
  const key = roomKey(chat)
  const shared = open.get(key)
  if (shared) {
    shared.refs += 1
    clearTimeout(shared.timer)
    shared.timer = undefined
    return shared.room
  }
  const room = client.chat.room(chat, opts)
  open.set(key, { room, refs: 1, timer: undefined })
  return room
}

function releaseRoom(client: Client, room: ChatRoom): void {
  const open = rooms.get(client)
  const key = roomKey(room)
  const shared = open?.get(key)
  if (!open || !shared || shared.room !== room) return
  shared.refs -= 1
  if (shared.refs > 0) return
  shared.timer = setTimeout(() => {
    open.delete(key)
    room.close()
  }, ROOM_LINGER_MS)
}

/** A chat to show: a `ChatInfo`/`ChatSummary` from the API, or just its `id` and `topic`. */
export type ChatRef = { readonly id: string; readonly topic: string }

export interface UseChannelResult {
  /** The room (null until the effect opened it, and while `chat` is null). */
  room: ChatRoom | null
  /** Oldest → newest, then this client's unconfirmed messages (`pending`, or failed with `error`). */
  messages: ChatMessage[]
  /** Others' unread messages among the loaded ones. */
  unread: number
  /** Other users typing (user ids). */
  typingUsers: string[]
  /** Other users with the chat open (user ids). */
  here: string[]
  /** The newest page is being read (at the start and after a gap). */
  loading: boolean
  hasOlder: boolean
  loadingOlder: boolean
  /** Why the room cannot show the chat (`forbidden`, `not_found`, `revoked`…), or a network failure being retried. */
  error: GoOnlineError | null
  /**
   * Sends a message: it shows at once as `pending`, and is delivered exactly
   * once even across reconnects. Never rejects: a failure stays in `messages`
   * with `error` (offer `resend`/`discard`) and is in the outcome.
   */
  send: (body: string) => Promise<CallOutcome<ChatMessage>>
  resend: (clientId: string) => Promise<CallOutcome<ChatMessage>>
  discard: (clientId: string) => void
  /** Changes one's own message. The actions below never reject: they resolve with `{ data }` or `{ error }`. */
  edit: (messageId: string, body: string) => Promise<CallOutcome<ChatMessage>>
  delete: (messageId: string) => Promise<CallOutcome<ChatMessage>>
  /** Adds (`on`, default) or removes this user's reaction; `data`: whether anything changed. */
  react: (messageId: string, emoji: string, on?: boolean) => Promise<CallOutcome<boolean>>
  /** Reads the next older page; `data`: whether there was one. */
  loadOlder: () => Promise<CallOutcome<boolean>>
  /** Moves the read mark to `seq` (default: the newest message seen). */
  markRead: (seq?: number) => Promise<CallOutcome<void>>
  /** Says whether this user is typing (turns itself off after 5 s, and on send). */
  setTyping: (on: boolean) => void
}

const NO_MESSAGES: ChatMessage[] = []
const NO_USERS: string[] = []
const NO_STATE: RoomState = { loading: true, hasOlder: false, loadingOlder: false, error: null }

/**
 * Shows the chat `chat` while the component is mounted (null: none). The
 * room is keyed by the chat's `id` and `topic`, so a new object for the same
 * chat (a refreshed list) does not reopen it. `opts` are read when the room
 * is opened. Actions are stable across renders.
 */
export function useChannel(chat: ChatRef | null | undefined, opts?: RoomOptions): UseChannelResult {
  const client = useClient()
  const id = chat?.id
  const topic = chat?.topic
  const [held, setHeld] = useState<{ client: Client; id: string; topic: string; room: ChatRoom } | null>(null)
  const optsRef = useRef(opts)
  optsRef.current = opts
  // The actions read the current room through a ref so they never change.
  const roomRef = useRef<ChatRoom | null>(null)

  useEffect(() => {
    if (id == null || topic == null) {
      setHeld(null)
      return
    }
    const room = acquireRoom(client, { id, topic }, optsRef.current)
    roomRef.current = room
    setHeld({ client, id, topic, room })
    return () => {
      if (roomRef.current === room) roomRef.current = null
      releaseRoom(client, room)
    }
  }, [client, id, topic])

  const live = held && held.client === client && held.id === id && held.topic === topic ? held : null
  const room = live?.room ?? null
  const messages = useStore(room?.messages, NO_MESSAGES)
  const unread = useStore(room?.unread, 0)
  const typingUsers = useStore(room?.typingUsers, NO_USERS)
  const here = useStore(room?.here, NO_USERS)
  const state = useStore(room?.state, NO_STATE)

  const run = useCallback(<R,>(fn: (room: ChatRoom) => Promise<R>): Promise<CallOutcome<R>> => {
    const r = roomRef.current
    if (!r) return Promise.resolve({ data: undefined, error: notOpen() })
    return fn(r).then(
      (data) => ({ data, error: null }),
      (e: unknown) => ({ data: undefined, error: e as GoOnlineError }),
    )
  }, [])
  const send = useCallback((body: string) => run((r) => r.send(body)), [run])
  const resend = useCallback((clientId: string) => run((r) => r.resend(clientId)), [run])
  const discard = useCallback((clientId: string) => roomRef.current?.discard(clientId), [])
  const edit = useCallback((messageId: string, body: string) => run((r) => r.edit(messageId, body)), [run])
  const del = useCallback((messageId: string) => run((r) => r.delete(messageId)), [run])
  const react = useCallback((messageId: string, emoji: string, on?: boolean) => run((r) => r.react(messageId, emoji, on)), [run])
  const loadOlder = useCallback(() => run((r) => r.loadOlder()), [run])
  const markRead = useCallback((seq?: number) => run((r) => r.markRead(seq)), [run])
  const setTyping = useCallback((on: boolean) => roomRef.current?.typing(on), [])

  return {
    room,
    messages,
    unread,
    typingUsers,
    here,
    loading: state.loading,
    hasOlder: state.hasOlder,
    loadingOlder: state.loadingOlder,
    error: state.error,
    send,
    resend,
    discard,
    edit,
    delete: del,
    react,
    loadOlder,
    markRead,
    setTyping,
  }
}

/** The shape of a `GoOnlineError` (this entry does not bundle the core's class). */
function notOpen(): GoOnlineError {
  return Object.assign(new Error('the chat room is not open yet (or `chat` is null)'), {
    name: 'GoOnlineError',
    code: 'not_open',
  }) as unknown as GoOnlineError
}
