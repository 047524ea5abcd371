//! `useChannel`: a chat room (docs/protocol.md §10.6) as React state — the
//! message list, unread count, who is typing and who is here — with its
//! actions (send, edit, delete, react, load older pages, mark read, typing).
//!
//! `client.chat.room()` shares one room per chat, with a refcount and a short
//! linger, so StrictMode's double mount, a quick remount, and two components
//! showing the same chat use one room and one history read; pending and
//! failed messages outlive the room anyway (they are the chat's).

import { useCallback, useEffect, useRef, useState } from 'react'
import type { ChatMessage, ChatRoom, RoomOptions, RoomState } from '../chat.js'
import type { Client } from '../client.js'
import type { GoOnlineError } from '../errors.js'
import type { CallOutcome } from './call.js'
import { useClient } from './context.js'
import { useStore } from './store.js'

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
/** Before the effect opened the room. */
const OPENING: RoomState = { loading: true, hasOlder: false, loadingOlder: false, error: null }
/** `chat` is null: nothing to load. */
const NO_CHAT: RoomState = { loading: false, hasOlder: false, loadingOlder: false, error: null }

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
  // What the actions act on before the effect opened the room (a child's
  // mount effect runs before its parent's): the chat of the last render.
  const target = useRef<{ client: Client; chat: ChatRef | null }>({ client, chat: null })
  target.current = { client, chat: id != null && topic != null ? { id, topic } : null }

  useEffect(() => {
    if (id == null || topic == null) {
      setHeld(null)
      return
    }
    const room = client.chat.room({ id, topic }, optsRef.current)
    roomRef.current = room
    setHeld({ client, id, topic, room })
    return () => {
      if (roomRef.current === room) roomRef.current = null
      room.close()
    }
  }, [client, id, topic])

  const live = held && held.client === client && held.id === id && held.topic === topic ? held : null
  const room = live?.room ?? null
  const messages = useStore(room?.messages, NO_MESSAGES)
  const unread = useStore(room?.unread, 0)
  const typingUsers = useStore(room?.typingUsers, NO_USERS)
  const here = useStore(room?.here, NO_USERS)
  const state = useStore(room?.state, id != null && topic != null ? OPENING : NO_CHAT)

  /**
   * Runs `fn` on the room. Before the effect has opened it, on the shared
   * room taken for the moment (the effect takes the same one right after).
   */
  const withRoom = useCallback(<R,>(fn: (room: ChatRoom) => R): R | undefined => {
    const r = roomRef.current
    if (r) return fn(r)
    const { client: c, chat: wanted } = target.current
    if (!wanted) return undefined
    const early = c.chat.room(wanted, optsRef.current)
    try {
      return fn(early)
    } finally {
      early.close()
    }
  }, [])
  const run = useCallback(
    <R,>(fn: (room: ChatRoom) => Promise<R>): Promise<CallOutcome<R>> => {
      let p: Promise<R> | undefined
      try {
        p = withRoom(fn)
      } catch (e) {
        p = Promise.reject(e)
      }
      if (!p) return Promise.resolve({ data: undefined, error: notOpen() })
      return p.then(
        (data) => ({ data, error: null }),
        (e: unknown) => ({ data: undefined, error: e as GoOnlineError }),
      )
    },
    [withRoom],
  )
  const send = useCallback((body: string) => run((r) => r.send(body)), [run])
  const resend = useCallback((clientId: string) => run((r) => r.resend(clientId)), [run])
  const discard = useCallback((clientId: string) => void withRoom((r) => r.discard(clientId)), [withRoom])
  const edit = useCallback((messageId: string, body: string) => run((r) => r.edit(messageId, body)), [run])
  const del = useCallback((messageId: string) => run((r) => r.delete(messageId)), [run])
  const react = useCallback((messageId: string, emoji: string, on?: boolean) => run((r) => r.react(messageId, emoji, on)), [run])
  const loadOlder = useCallback(() => run((r) => r.loadOlder()), [run])
  const markRead = useCallback((seq?: number) => run((r) => r.markRead(seq)), [run])
  const setTyping = useCallback((on: boolean) => void withRoom((r) => r.typing(on)), [withRoom])

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
  return Object.assign(new Error('no chat room: `chat` is null'), {
    name: 'GoOnlineError',
    code: 'not_open',
  }) as unknown as GoOnlineError
}
