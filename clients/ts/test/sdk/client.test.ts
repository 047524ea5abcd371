// The connection and typed operations against the real server: sign-in through
// `auth`, token refresh on the server's request, the unauthorized stop, calls
// and their errors, and faults injected through a TCP proxy.
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, GoOnlineError, UnauthorizedError, type Client, type Platform, type Status } from '../../src/index.js'
import { FaultProxy } from '../support/proxy.js'
import { registerUser, startServer, unique, waitFor, type GoonlineServer, type TestUser } from '../support/server.js'

let server: GoonlineServer
let proxy: FaultProxy
let alice: TestUser

beforeAll(async () => {
  server = await startServer({ args: ['--access-token-ttl-secs', '3', '--reauth-grace-secs', '20'] })
  proxy = await new FaultProxy(() => server.port).start()
  alice = await registerUser(server, 'alice')
})

afterAll(async () => {
  await proxy?.stop()
  await server?.dispose()
})

/** A fresh access token for `user` (the one from registration may have expired). */
async function freshToken(user: TestUser): Promise<string> {
  const res = await server.rest('POST', '/api/auth/login', { email: user.email, password: user.password })
  expect(res.status).toBe(200)
  return res.body.access_token
}

function statuses(client: Client): Status[] {
  const seen: Status[] = [client.status.get()]
  client.status.subscribe((s) => seen.push(s))
  return seen
}

const connected = (c: Client) => waitFor(() => c.status.get() === 'connected', 'connected')

describe('connection and calls', () => {
  it('signs in with the token from auth and runs typed calls whose errors carry the server code', async () => {
    const reasons: string[] = []
    const client = createClient({
      url: server.url,
      WebSocket,
      auth: async ({ reason }) => {
        reasons.push(reason)
        return freshToken(alice)
      },
    })
    try {
      await connected(client)
      expect(client.user.get()).toBe(alice.id)
      expect(reasons).toEqual(['connect'])
      const me = await client.call('me.get')
      expect(me.id).toBe(alice.id)
      const name = unique('shop')
      const biz = await client.call('business.create', { name })
      expect(biz.name).toBe(name)
      expect(biz.role).toBe('owner')

      const bad = await client.call('business.create', { name: '' }).catch((e: unknown) => e)
      expect(bad).toBeInstanceOf(GoOnlineError)
      expect((bad as GoOnlineError).code).toBe('invalid_argument')
      expect((bad as GoOnlineError).field).toBe('name')

      const unknown = await client.callUntyped('no.such.method', {}).catch((e: unknown) => e)
      expect((unknown as GoOnlineError).code).toBe('not_found')
    } finally {
      client.close()
    }
  })

  it('calls made before the first connection wait for it; anonymous connections get unauthorized errors', async () => {
    const client = createClient({ url: server.url, WebSocket })
    try {
      const pending = client.call('me.get').catch((e: unknown) => e)
      expect(client.status.get()).toBe('connecting')
      const err = await pending
      expect((err as GoOnlineError).code).toBe('unauthorized')
      expect(client.user.get()).toBeNull()
    } finally {
      client.close()
    }
  })

  it('answers the server asking for a new token without reconnecting', async () => {
    const reasons: string[] = []
    const before = proxy.accepted
    const client = createClient({
      url: proxy.url,
      WebSocket,
      auth: async ({ reason }) => {
        reasons.push(reason)
        return freshToken(alice)
      },
    })
    try {
      await connected(client)
      // The 3 s token expires; the server sends `reauth` and the client answers.
      await waitFor(() => reasons.includes('reauth'), 'a reauth request', 15_000)
      await new Promise((r) => setTimeout(r, 500))
      const me = await client.call('me.get')
      expect(me.id).toBe(alice.id)
      expect(client.status.get()).toBe('connected')
      expect(proxy.accepted - before).toBe(1)
    } finally {
      client.close()
    }
  })

  it('a refused token is asked for once more, then the client stops as unauthorized', async () => {
    const reasons: string[] = []
    let good = false
    const client = createClient({
      url: server.url,
      WebSocket,
      reconnect: { baseMs: 50, maxMs: 100 },
      auth: async ({ reason }) => {
        reasons.push(reason)
        return good ? freshToken(alice) : 'not-a-token'
      },
    })
    try {
      await waitFor(() => client.status.get() === 'unauthorized', 'unauthorized')
      expect(reasons).toEqual(['connect', 'rejected'])
      await new Promise((r) => setTimeout(r, 500))
      expect(reasons).toHaveLength(2) // no more retries
      const err = await client.call('me.get', undefined, { whileOffline: 'fail' }).catch((e: unknown) => e)
      expect((err as GoOnlineError).code).toBe('offline')

      // The user signs in again: the app reconnects.
      good = true
      client.reconnect()
      await connected(client)
      expect(client.user.get()).toBe(alice.id)
    } finally {
      client.close()
    }
  })

  it('UnauthorizedError from auth stops without connecting', async () => {
    let calls = 0
    const client = createClient({
      url: server.url,
      WebSocket,
      auth: () => {
        calls += 1
        throw new UnauthorizedError('signed out')
      },
    })
    try {
      await waitFor(() => client.status.get() === 'unauthorized', 'unauthorized')
      await new Promise((r) => setTimeout(r, 300))
      expect(calls).toBe(1)
    } finally {
      client.close()
    }
  })

  it('a call cut off after reaching the server runs exactly once thanks to its idempotency key', async () => {
    const token = await freshToken(alice)
    const client = createClient({ url: proxy.url, WebSocket, auth: () => token, reconnect: { baseMs: 50, maxMs: 200 } })
    try {
      await connected(client)
      const seen = statuses(client)
      const name = unique('once')
      proxy.cutAfterNextClientWrite()
      const biz = await client.call('business.create', { name }, { idempotencyKey: unique('key') })
      expect(biz.name).toBe(name)
      expect(seen).toContain('reconnecting')
      const list = await client.call('business.list')
      expect(list.businesses.filter((b) => b.name === name)).toHaveLength(1)

      // Without a key the outcome is unknown, and the SDK says so.
      proxy.cutAfterNextClientWrite()
      const err = await client.call('business.create', { name: unique('unknown') }).catch((e: unknown) => e)
      expect((err as GoOnlineError).code).toBe('connection_lost')
    } finally {
      client.close()
    }
  })

  it('offline: fail-calls reject at once, queued calls run after the reconnect', async () => {
    const token = await freshToken(alice)
    const client = createClient({ url: proxy.url, WebSocket, auth: () => token, reconnect: { baseMs: 50, maxMs: 200 } })
    try {
      await connected(client)
      proxy.refuseNew(true)
      proxy.cutAll()
      await waitFor(() => client.status.get() === 'reconnecting', 'reconnecting')
      const failed = await client.call('me.get', undefined, { whileOffline: 'fail' }).catch((e: unknown) => e)
      expect((failed as GoOnlineError).code).toBe('offline')
      await expect(client.call('business.create', { name: 'x' }, { whileOffline: 'queue' })).rejects.toThrow(/idempotencyKey/)

      const name = unique('queued')
      const queued = client.call('business.create', { name }, { idempotencyKey: unique('key') })
      await new Promise((r) => setTimeout(r, 300))
      proxy.refuseNew(false)
      const biz = await queued
      expect(biz.name).toBe(name)
      expect(client.status.get()).toBe('connected')
    } finally {
      proxy.refuseNew(false)
      client.close()
    }
  })

  it('a frozen link is found dead by the heartbeat and the client reconnects', async () => {
    const client = createClient({
      url: proxy.url,
      WebSocket,
      heartbeatMs: 1_000,
      pongTimeoutMs: 1_000,
      reconnect: { baseMs: 50, maxMs: 200 },
    })
    try {
      await connected(client)
      const seen = statuses(client)
      proxy.freeze()
      await waitFor(() => seen.includes('reconnecting'), 'the dead link noticed', 10_000)
      proxy.cutAll()
      proxy.thaw()
      await connected(client)
    } finally {
      proxy.thaw()
      client.close()
    }
  })

  it('reconnects after a server restart', async () => {
    const client = createClient({ url: server.url, WebSocket, reconnect: { baseMs: 100, maxMs: 300 } })
    try {
      await connected(client)
      const seen = statuses(client)
      await server.restart()
      await connected(client)
      expect(seen).toContain('reconnecting')
      const err = await client.call('me.get').catch((e: unknown) => e)
      expect((err as GoOnlineError).code).toBe('unauthorized')
    } finally {
      client.close()
    }
  })

  it('goes offline when the platform says so, and reconnects at once when the network is back', async () => {
    let signal: ((up: boolean) => void) | undefined
    let up = true
    const platform: Platform = {
      onNetworkChange(cb) {
        signal = cb
        return () => {}
      },
      isOnline: () => up,
    }
    // A long backoff: only the platform's signal can explain a quick reconnect.
    const client = createClient({ url: proxy.url, WebSocket, platform, reconnect: { baseMs: 60_000, maxMs: 60_000 } })
    try {
      await connected(client)
      proxy.refuseNew(true)
      up = false
      signal!(false)
      proxy.cutAll()
      await waitFor(() => client.status.get() === 'offline', 'offline')
      const accepted = proxy.accepted
      await new Promise((r) => setTimeout(r, 300))
      expect(proxy.accepted).toBe(accepted)
      proxy.refuseNew(false)
      up = true
      signal!(true)
      await waitFor(() => client.status.get() === 'connected', 'connected soon after the signal', 3_000)
    } finally {
      proxy.refuseNew(false)
      client.close()
    }
  })

  it('an exception in a listener goes to the error event and the client keeps working', async () => {
    const client = createClient({ url: server.url, WebSocket, autoConnect: false })
    const errors: unknown[] = []
    client.on('error', (e) => errors.push(e))
    client.status.subscribe(() => {
      throw new Error('listener bug')
    })
    try {
      client.reconnect()
      await connected(client)
      expect(errors.some((e) => e instanceof Error && e.message === 'listener bug')).toBe(true)
      const err = await client.call('me.get').catch((e: unknown) => e)
      expect((err as GoOnlineError).code).toBe('unauthorized')
    } finally {
      client.close()
    }
  })

  it('asks auth once at a time, however many wake-up signals arrive while it runs', async () => {
    let running = 0
    let most = 0
    let calls = 0
    const signals: Array<(up: boolean) => void> = []
    const platform: Platform = {
      onNetworkChange: (cb) => (signals.push(cb), () => {}),
      onForegroundChange: (cb) => (signals.push(cb), () => {}),
    }
    const client = createClient({
      url: proxy.url,
      WebSocket,
      platform,
      reconnect: { baseMs: 60_000, maxMs: 60_000 },
      auth: async () => {
        calls += 1
        running += 1
        most = Math.max(most, running)
        await new Promise((r) => setTimeout(r, 300))
        running -= 1
        return freshToken(alice)
      },
    })
    try {
      await connected(client)
      proxy.cutAll()
      await waitFor(() => client.status.get() === 'reconnecting', 'reconnecting')
      // A phone coming back: network and foreground at once, twice.
      for (const s of [...signals, ...signals]) s(true)
      await connected(client)
      expect(most).toBe(1)
      expect(calls).toBe(2)
    } finally {
      client.close()
    }
  })

  it('calls waiting for a first connection that never comes time out, or fail when the client stops', async () => {
    proxy.refuseNew(true)
    const client = createClient({ url: proxy.url, WebSocket, reconnect: { baseMs: 50, maxMs: 100 } })
    try {
      const err = await client.call('me.get', undefined, { timeoutMs: 500 }).catch((e: unknown) => e)
      expect((err as GoOnlineError).code).toBe('timeout')
    } finally {
      proxy.refuseNew(false)
      client.close()
    }
    let gate: (() => void) | undefined
    const stopped = createClient({
      url: server.url,
      WebSocket,
      auth: async () => {
        await new Promise<void>((r) => (gate = r))
        throw new UnauthorizedError('signed out')
      },
    })
    try {
      const waiting = stopped.call('me.get').catch((e: unknown) => e)
      await waitFor(() => gate !== undefined, 'auth asked')
      gate!()
      expect(((await waiting) as GoOnlineError).code).toBe('unauthorized')
      expect(stopped.status.get()).toBe('unauthorized')
    } finally {
      stopped.close()
    }
  })

  it('close() rejects a call on the wire with closed, not connection_lost', async () => {
    const client = createClient({ url: proxy.url, WebSocket, auth: async () => freshToken(alice) })
    try {
      await connected(client)
      proxy.freeze()
      const inflight = client.call('me.get').catch((e: unknown) => e)
      await new Promise((r) => setTimeout(r, 100))
      client.close()
      expect(((await inflight) as GoOnlineError).code).toBe('closed')
      expect(client.user.get()).toBeNull()
    } finally {
      proxy.thaw()
      proxy.cutAll()
    }
  })

  it('close() ends the client: status closed and pending calls rejected', async () => {
    const client = createClient({ url: proxy.url, WebSocket, auth: async () => freshToken(alice) })
    await connected(client)
    proxy.refuseNew(true)
    proxy.cutAll()
    const queued = client.call('business.create', { name: unique('never') }, { idempotencyKey: unique('k') }).catch((e: unknown) => e)
    client.close()
    proxy.refuseNew(false)
    expect(((await queued) as GoOnlineError).code).toBe('closed')
    expect(client.status.get()).toBe('closed')
  })
})
