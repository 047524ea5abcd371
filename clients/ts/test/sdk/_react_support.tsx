// Shared by the React binding tests: one server per test file (each file
// importing this gets its own), clients that record the frames they send,
// and a StrictMode mount.
import { StrictMode, useCallback, useSyncExternalStore, type ReactNode } from 'react'
import { cleanup, configure, render } from '@testing-library/react'
import { unpack } from 'msgpackr'
import WebSocket from 'ws'
import type * as Y from 'yjs'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { createClient, type Client, type ClientOptions, type WebSocketConstructor } from '../../src/index.js'
import { GoOnlineProvider } from '../../src/react/index.js'
import { startServer, type GoonlineServer, type TestUser } from '../support/server.js'

// The server answers in milliseconds, but two test files share two cores.
configure({ asyncUtilTimeout: 10_000 })

export let server: GoonlineServer
const clients: Client[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--allow-anonymous-docs'] })
})
afterEach(() => {
  // No vitest globals: Testing Library cannot register its own cleanup.
  cleanup()
  for (const c of clients.splice(0)) c.close()
})
afterAll(async () => {
  await server?.dispose()
})

/** WebSockets made by the clients of this test: a hook must never add one. */
export let socketsMade = 0

/** A client frame as sent (decoded from the socket). */
export type Sent = { type: string; doc?: string; topic?: string; method?: string }

export interface Made {
  client: Client
  errors: unknown[]
  /** Every frame the client sent, in order. */
  sent: Sent[]
}

export function makeClient(opts: Partial<ClientOptions> = {}): Made {
  const sent: Sent[] = []
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url)
      socketsMade += 1
      // `ws` throws an 'error' event nobody listens to (the SDK clears `onerror`
      // when it drops a socket), e.g. when a client still connecting is closed
      // by afterEach; a browser socket never throws there.
      this.on('error', () => {})
    }
    override send(data: any, ...rest: any[]): void {
      sent.push(unpack(data) as Sent)
      ;(super.send as (...a: unknown[]) => void)(data, ...rest)
    }
  }
  const client = createClient({
    url: server.url,
    // Cast: `ws`'s handler parameter types are narrower than the SDK's structural `WebSocketLike`.
    WebSocket: RecordingWebSocket as unknown as WebSocketConstructor,
    reconnect: { baseMs: 50, maxMs: 300 },
    ...opts,
  })
  const errors: unknown[] = []
  client.on('error', (e) => errors.push(e))
  clients.push(client)
  return { client, errors, sent }
}

/** How many frames of `type` the client sent about `name` (a doc or a topic), or calls of `name`. */
export function sentCount(made: Made, type: string, name: string): number {
  return made.sent.filter((f) => f.type === type && (f.doc === name || f.topic === name || f.method === name)).length
}

export function signedIn(user: TestUser, opts: Partial<ClientOptions> = {}): Made {
  return makeClient({ auth: () => user.accessToken, ...opts })
}

export function mount(client: Client, node: ReactNode) {
  return render(
    <StrictMode>
      <GoOnlineProvider client={client}>{node}</GoOnlineProvider>
    </StrictMode>,
  )
}

export const codes = (errors: unknown[]) => errors.map((e) => (e as { code?: string }).code ?? String(e))

/** The text of `ydoc`'s `t`, re-rendering on change (a test helper, not part of the SDK). */
export function useText(ydoc: Y.Doc | null): string {
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (!ydoc) return () => {}
      const text = ydoc.getText('t')
      text.observe(onChange)
      return () => text.unobserve(onChange)
    },
    [ydoc],
  )
  return useSyncExternalStore(subscribe, () => (ydoc ? ydoc.getText('t').toString() : ''))
}
