// Shared setup for the topic and chat tests: users, a business with a channel,
// clients that record the frames they send, messages posted over REST.
import { unpack } from 'msgpackr'
import WebSocket from 'ws'
import { expect } from 'vitest'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from '../../src/index.js'
import type { ChatInfo } from '../../src/methods.js'
import { registerUser, unique, waitFor, type GoonlineServer, type TestUser } from '../support/server.js'

export interface World {
  owner: TestUser
  member: TestUser
  businessId: string
  chat: ChatInfo
}

/** An owner, a second member (agent), a business and a channel in it. */
export async function makeWorld(server: GoonlineServer): Promise<World> {
  const owner = await registerUser(server, 'owner')
  const member = await registerUser(server, 'member')
  const biz = await server.rest('POST', '/api/businesses', { name: unique('shop') }, owner.accessToken)
  expect(biz.status).toBe(200)
  const businessId: string = biz.body.id
  const add = await server.rest('POST', `/api/businesses/${businessId}/members`, { email: member.email, role: 'agent' }, owner.accessToken)
  expect(add.status).toBe(200)
  const chat = await newChannel(server, owner, businessId)
  return { owner, member, businessId, chat }
}

/** A new channel in the business. */
export async function newChannel(server: GoonlineServer, owner: TestUser, businessId: string): Promise<ChatInfo> {
  const name = unique('ch').toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(-60)
  const res = await server.rest('POST', `/api/businesses/${businessId}/chat/channels`, { name }, owner.accessToken)
  expect(res.status).toBe(200)
  return res.body as ChatInfo
}

let posted = 0
/** Sends a chat message over REST (appends a `message.created` event); returns the message. */
export async function post(server: GoonlineServer, user: TestUser, chatId: string, body: string): Promise<any> {
  posted += 1
  const res = await server.rest('POST', `/api/chats/${chatId}/messages`, { client_id: `rest-${process.pid}-${posted}`, body }, user.accessToken)
  if (res.status !== 200) throw new Error(`chat.send failed: ${JSON.stringify(res)}`)
  return res.body
}

/** The frames a client sent, decoded. */
export type Sent = Array<Record<string, unknown>>

/** `ws` with every outgoing frame recorded in `sent`. */
export function recordingWebSocket(sent: Sent): WebSocketConstructor {
  return class extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      try {
        sent.push(unpack(data as Uint8Array) as Record<string, unknown>)
      } catch {
        // Not a frame of ours.
      }
      ;(super.send as (...a: unknown[]) => void)(data, ...rest)
    }
  } as unknown as WebSocketConstructor
}

export interface TestClient {
  client: Client
  errors: unknown[]
  sent: Sent
}

/** A client signed in as `user`, on `url` (the server or a proxy), recording errors and sent frames. */
export function connect(url: string, user: TestUser, extra: Partial<ClientOptions> = {}): TestClient {
  const sent: Sent = []
  const errors: unknown[] = []
  const client = createClient({
    url,
    WebSocket: recordingWebSocket(sent),
    auth: () => user.accessToken,
    reconnect: { baseMs: 50, maxMs: 300 },
    ...extra,
  })
  client.on('error', (e) => errors.push(e))
  return { client, errors, sent }
}

export const connected = (c: Client) => waitFor(() => c.status.get() === 'connected', 'connected')

/** `n` consecutive numbers from `from`. */
export function range(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i)
}
