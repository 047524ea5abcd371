// Shared setup for the topic and chat tests: users, a business with a channel,
// clients that record the frames they send, messages posted over REST.
import { unpack } from 'msgpackr'
import WebSocket from 'ws'
import { expect } from 'vitest'
import { decodeFrame } from '../../src/codec.js'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from '../../src/index.js'
import type { ChatInfo } from '../../src/methods.js'
import { FaultProxy } from '../support/proxy.js'
import { registerUser, startServer, unique, waitFor, type GoonlineServer, type TestUser } from '../support/server.js'

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

/**
 * Reorders what a client receives, as the server may:
 * - `armed`: holds a topic's frames back once a `gap` for it arrived, until
 *   the reply to the next `chat.history` call has been delivered (the replay
 *   after a gap is long and the page is read meanwhile: events the page
 *   already counts arrive after it);
 * - `holdPage`: holds the next `chat.history` reply until `releasePage()`
 *   (events of changes made after the page was read arrive before it).
 */
export interface ReplayHold {
  topic: string
  armed: boolean
  /** The page's reply came and what was held behind it was delivered. */
  over: boolean
  /** The `seq` of the last `subscribed` for the topic delivered to the client. */
  subscribed: number
  /** The `seq` of the last event of the topic delivered to the client. */
  event: number
  holdPage?: boolean
  /** Set while a page's reply is held: delivers it. */
  releasePage?: () => void
}

/** `recordingWebSocket` that applies `hold` to what it receives. */
export function holdingWebSocket(sent: Sent, hold: ReplayHold): WebSocketConstructor {
  const Base = recordingWebSocket(sent) as unknown as typeof WebSocket
  const decode = (data: unknown): Record<string, unknown> | null => {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array)
    return (decodeFrame(bytes) as Record<string, unknown> | undefined) ?? null
  }
  // `ws` defines `onmessage` as an accessor on its prototype: wrap the handler set through it.
  const base = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!
  const wrap = (fn0: (ev: any) => void) => {
    let holding = false
    let held: any[] = []
    const fn = (ev: any) => {
      fn0(ev)
      const frame = decode(ev.data)
      if (frame?.type === 'subscribed' && frame.topic === hold.topic) hold.subscribed = frame.seq as number
      if (frame?.type === 'event' && frame.topic === hold.topic) hold.event = frame.seq as number
    }
    return (ev: any) => {
      const frame = decode(ev.data)
      const historyReply = () => {
        if (frame?.type !== 'reply') return false
        const call = sent.find((f) => f.type === 'call' && f.id === frame.id)
        return call?.method === 'chat.history'
      }
      if (hold.holdPage && historyReply()) {
        hold.holdPage = false
        hold.releasePage = () => {
          hold.releasePage = undefined
          fn(ev)
        }
        return
      }
      if (holding && historyReply()) {
        fn(ev)
        // After the page was applied (the reply resolves a promise: microtasks);
        // what comes meanwhile stays behind the held frames.
        setTimeout(() => {
          holding = false
          const release = held
          held = []
          for (const h of release) fn(h)
          hold.over = true
        }, 0)
        return
      }
      if (holding && frame?.topic === hold.topic) {
        held.push(ev)
        return
      }
      fn(ev)
      if (hold.armed && frame?.type === 'gap' && frame.topic === hold.topic) {
        hold.armed = false
        holding = true
      }
    }
  }
  return class extends Base {
    constructor(...args: any[]) {
      super(...(args as [string]))
      Object.defineProperty(this, 'onmessage', {
        configurable: true,
        get: () => base.get!.call(this),
        set: (fn: ((ev: any) => void) | null) => base.set!.call(this, fn ? wrap(fn) : null),
      })
    }
  } as unknown as WebSocketConstructor
}

/** A test file's server (default flags), a fault proxy in front of it, and its world. */
export interface Setup {
  server: GoonlineServer
  proxy: FaultProxy
  world: World
}

/** Starts what a topics or chat test file uses (`beforeAll`). */
export async function setUp(): Promise<Setup> {
  const server = await startServer()
  const proxy = await new FaultProxy(() => server.port).start()
  return { server, proxy, world: await makeWorld(server) }
}

/** Stops it (`afterAll`); tolerates a setup that failed half-way. */
export async function tearDown(setup: Partial<Setup> | undefined): Promise<void> {
  await setup?.proxy?.stop()
  await setup?.server?.dispose()
}
