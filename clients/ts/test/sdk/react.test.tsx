// @vitest-environment happy-dom
// @vitest-environment-options { "settings": { "fetch": { "disableSameOriginPolicy": true } } }
// (happy-dom's fetch would block `server.rest` as cross-origin.)
//
// The React bindings (`@goonline/client/react`) against the real server, every
// tree wrapped in <StrictMode> so effects mount, unmount and mount again.
import { StrictMode, useCallback, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react'
import { cleanup, configure, fireEvent, render, waitFor } from '@testing-library/react'
import { unpack } from 'msgpackr'
import WebSocket from 'ws'
import type * as Y from 'yjs'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createClient, type Client, type ClientOptions, type Status, type WebSocketConstructor } from '../../src/index.js'
import {
  GoOnlineProvider,
  useCall,
  useClient,
  useDoc,
  useOthers,
  usePresence,
  useStatus,
  useSyncStatus,
  useChannel,
  useTopic,
  type ChatRef,
} from '../../src/react/index.js'
import { registerUser, startServer, unique, type GoonlineServer, type TestUser } from '../support/server.js'

// The server answers in milliseconds, but two test files share two cores.
configure({ asyncUtilTimeout: 10_000 })

let server: GoonlineServer
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
let socketsMade = 0

/** A client frame as sent (decoded from the socket). */
type Sent = { type: string; doc?: string; topic?: string; method?: string }

interface Made {
  client: Client
  errors: unknown[]
  /** Every frame the client sent, in order. */
  sent: Sent[]
}

function makeClient(opts: Partial<ClientOptions> = {}): Made {
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
function sentCount(made: Made, type: string, name: string): number {
  return made.sent.filter((f) => f.type === type && (f.doc === name || f.topic === name || f.method === name)).length
}

function signedIn(user: TestUser, opts: Partial<ClientOptions> = {}): Made {
  return makeClient({ auth: () => user.accessToken, ...opts })
}

function mount(client: Client, node: ReactNode) {
  return render(
    <StrictMode>
      <GoOnlineProvider client={client}>{node}</GoOnlineProvider>
    </StrictMode>,
  )
}

const codes = (errors: unknown[]) => errors.map((e) => (e as { code?: string }).code ?? String(e))

/** The text of `ydoc`'s `t`, re-rendering on change (a test helper, not part of the SDK). */
function useText(ydoc: Y.Doc | null): string {
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

function Editor({ name, id }: { name: string; id: string }) {
  const { ydoc, doc, ready, error } = useDoc(name)
  const text = useText(ydoc)
  const sync = useSyncStatus(doc)
  return (
    <div>
      <span data-testid={`${id}-ready`}>{error ? `error:${error.code}` : ready ? 'ready' : 'loading'}</span>
      <span data-testid={`${id}-text`}>{text}</span>
      <span data-testid={`${id}-unacked`}>{sync.unacked}</span>
      <button data-testid={`${id}-type`} onClick={() => ydoc?.getText('t').insert(ydoc.getText('t').length, id)}>
        type
      </button>
    </div>
  )
}

describe('GoOnlineProvider', () => {
  it('useClient throws a clear error outside a provider', () => {
    function Orphan() {
      useClient()
      return null
    }
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      expect(() => render(<Orphan />)).toThrow(/inside <GoOnlineProvider/)
    } finally {
      quiet.mockRestore()
    }
  })
})

describe('useDoc', () => {
  it('two clients editing one document converge, each showing ready', async () => {
    const name = unique('react-doc')
    const a = makeClient()
    const b = makeClient()
    const ra = mount(a.client, <Editor name={name} id="a" />)
    const rb = mount(b.client, <Editor name={name} id="b" />)
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toBe('ready'))
    await waitFor(() => expect(rb.getByTestId('b-ready').textContent).toBe('ready'))

    fireEvent.click(ra.getByTestId('a-type'))
    await waitFor(() => expect(rb.getByTestId('b-text').textContent).toBe('a'))
    fireEvent.click(rb.getByTestId('b-type'))
    fireEvent.click(ra.getByTestId('a-type'))
    await waitFor(() => {
      const ta = ra.getByTestId('a-text').textContent
      expect(ta).toHaveLength(3)
      expect(rb.getByTestId('b-text').textContent).toBe(ta)
    })
    // Every edit made durable by the server.
    await waitFor(() => expect(ra.getByTestId('a-unacked').textContent).toBe('0'))
    await waitFor(() => expect(rb.getByTestId('b-unacked').textContent).toBe('0'))
    expect(codes([...a.errors, ...b.errors])).toEqual([])
  })

  it('opens once under StrictMode, one socket, and keeps syncing after the double mount and a remount', async () => {
    const name = unique('react-strict')
    socketsMade = 0
    const a = makeClient()
    const b = makeClient()
    const ra = mount(a.client, <Editor name={name} id="a" />)
    const rb = mount(b.client, <Editor name={name} id="b" />)
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toBe('ready'))
    await waitFor(() => expect(rb.getByTestId('b-ready').textContent).toBe('ready'))
    fireEvent.click(ra.getByTestId('a-type'))
    await waitFor(() => expect(rb.getByTestId('b-text').textContent).toBe('a'))

    // Unmount and mount again at once (a route change back): the SDK's linger
    // keeps the open, the state is still there, and edits keep flowing.
    ra.unmount()
    const ra2 = mount(a.client, <Editor name={name} id="a" />)
    expect(ra2.getByTestId('a-text').textContent).toBe('a')
    await waitFor(() => expect(ra2.getByTestId('a-ready').textContent).toBe('ready'))
    fireEvent.click(ra2.getByTestId('a-type'))
    fireEvent.click(rb.getByTestId('b-type'))
    await waitFor(() => {
      expect(rb.getByTestId('b-text').textContent).toHaveLength(3)
      expect(ra2.getByTestId('a-text').textContent).toBe(rb.getByTestId('b-text').textContent)
    })
    await waitFor(() => expect(ra2.getByTestId('a-unacked').textContent).toBe('0'))

    expect(socketsMade).toBe(2) // one per client
    // One `open` and no `close` on the wire for the StrictMode double mount and the remount.
    expect(sentCount(a, 'open', name)).toBe(1)
    expect(sentCount(a, 'close', name)).toBe(0)
    // A second `open` of the same document on one socket would be refused with doc_already_open.
    expect(codes([...a.errors, ...b.errors])).toEqual([])
  })

  it('switches documents when the name changes', async () => {
    const one = unique('react-one')
    const two = unique('react-two')
    const a = makeClient()
    const b = makeClient()
    const rb = mount(b.client, <Editor name={two} id="b" />)
    const ra = mount(a.client, <Editor name={one} id="a" />)
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toBe('ready'))
    fireEvent.click(ra.getByTestId('a-type'))

    ra.rerender(
      <StrictMode>
        <GoOnlineProvider client={a.client}>
          <Editor name={two} id="a" />
        </GoOnlineProvider>
      </StrictMode>,
    )
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toBe('ready'))
    expect(ra.getByTestId('a-text').textContent).toBe('')
    fireEvent.click(ra.getByTestId('a-type'))
    await waitFor(() => expect(rb.getByTestId('b-text').textContent).toBe('a'))
    // The old document is closed after the linger.
    await waitFor(() => expect(sentCount(a, 'close', one)).toBe(1))
    expect(sentCount(a, 'open', two)).toBe(1)
    expect(codes(a.errors)).toEqual([])
  })

  it('shows a refused open as an error', async () => {
    const a = makeClient()
    // `biz/…` needs a signed-in member: an anonymous connection is refused for good.
    const ra = mount(a.client, <Editor name="biz/nobody/notes" id="a" />)
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toMatch(/^error:(forbidden|unauthorized)$/))
  })

  it('shows a closed client as an error instead of throwing', async () => {
    const a = makeClient()
    await waitFor(() => expect(a.client.status.get()).toBe('connected'))
    a.client.close()
    const ra = mount(a.client, <Editor name={unique('react-closed')} id="a" />)
    expect(ra.getByTestId('a-ready').textContent).toBe('error:closed')
  })
})

function Presence({ name, me }: { name: string; me: string }) {
  const doc = useDoc(name)
  const [mine, setMine] = usePresence<{ name: string; cursor?: number }>(doc)
  useEffect(() => {
    if (doc.awareness) setMine({ name: me })
  }, [doc.awareness, me, setMine])
  return (
    <div>
      <span data-testid={`${me}-mine`}>{mine ? `${mine.name}@${mine.cursor ?? '-'}` : 'none'}</span>
      <button data-testid={`${me}-move`} onClick={() => setMine((s) => ({ cursor: (s?.cursor ?? 0) + 1 }))}>
        move
      </button>
    </div>
  )
}

function Others({ name, id }: { name: string; id: string }) {
  const doc = useDoc(name)
  const others = useOthers<{ name?: string; cursor?: number }>(doc)
  const names = others
    .filter((o) => o.state.name)
    .map((o) => `${o.state.name}@${o.state.cursor ?? '-'}`)
    .join(',')
  return <span data-testid={`${id}-others`}>{names}</span>
}

describe('usePresence / useOthers', () => {
  it("shows the other client's state, merges updates, and drops it when the other unmounts", async () => {
    const name = unique('react-presence')
    const a = makeClient({ docLingerMs: 100 })
    const b = makeClient()
    const rb = mount(
      b.client,
      <>
        <Presence name={name} me="bob" />
        <Others name={name} id="b" />
      </>,
    )
    const ra = mount(a.client, <Presence name={name} me="alice" />)
    await waitFor(() => expect(ra.getByTestId('alice-mine').textContent).toBe('alice@-'))
    // Bob sees Alice, not himself.
    await waitFor(() => expect(rb.getByTestId('b-others').textContent).toBe('alice@-'))

    // A merged update keeps the name.
    fireEvent.click(ra.getByTestId('alice-move'))
    await waitFor(() => expect(ra.getByTestId('alice-mine').textContent).toBe('alice@1'))
    await waitFor(() => expect(rb.getByTestId('b-others').textContent).toBe('alice@1'))

    // Alice leaves: the document is closed after the linger and the server removes her state.
    ra.unmount()
    await waitFor(() => expect(rb.getByTestId('b-others').textContent).toBe(''))
    expect(codes([...a.errors, ...b.errors])).toEqual([])
  })
})

function StatusLog({ log }: { log: Status[] }) {
  const status = useStatus()
  useEffect(() => {
    if (log[log.length - 1] !== status) log.push(status)
  }, [status, log])
  return <span data-testid="status">{status}</span>
}

describe('useCall', () => {
  function CreateBusiness() {
    const { call, data, error, loading, reset } = useCall('business.create')
    const [name, setName] = useState('')
    return (
      <div>
        <input data-testid="name" value={name} onChange={(e) => setName(e.target.value)} />
        <button data-testid="create" onClick={() => void call({ name })}>
          create
        </button>
        <button data-testid="reset" onClick={reset}>
          reset
        </button>
        <span data-testid="state">
          {loading ? 'loading' : error ? `error:${error.code}:${error.field ?? ''}` : data ? `created:${data.name}` : 'idle'}
        </span>
      </div>
    )
  }

  it('surfaces a typed error, then a typed result', async () => {
    const user = await registerUser(server, 'react-call')
    const { client } = signedIn(user)
    const r = mount(client, <CreateBusiness />)
    fireEvent.click(r.getByTestId('create'))
    await waitFor(() => expect(r.getByTestId('state').textContent).toMatch(/^error:invalid_argument:/))

    fireEvent.click(r.getByTestId('reset'))
    expect(r.getByTestId('state').textContent).toBe('idle')

    fireEvent.change(r.getByTestId('name'), { target: { value: 'Acme Bakery' } })
    fireEvent.click(r.getByTestId('create'))
    await waitFor(() => expect(r.getByTestId('state').textContent).toBe('created:Acme Bakery'))
  })

  it('ignores a call that finishes after unmount', async () => {
    const user = await registerUser(server, 'react-call-unmount')
    const { client, errors } = signedIn(user)
    let outcome: Promise<unknown> | undefined
    function Fire() {
      const { call } = useCall('business.create')
      useEffect(() => {
        outcome ??= call({ name: 'Late Shop' })
      }, [call])
      return null
    }
    const r = mount(client, <Fire />)
    r.unmount()
    // The promise still settles for whoever awaits it; nothing is thrown or reported.
    await expect(outcome).resolves.toMatchObject({ data: { name: 'Late Shop' }, error: null })
    expect(codes(errors)).toEqual([])
  })
})

/** A business with a chat channel, made over REST. */
async function channelFor(user: TestUser): Promise<{ businessId: string; chatId: string; topic: string }> {
  const biz = await server.rest('POST', '/api/businesses', { name: unique('Shop') }, user.accessToken)
  expect(biz.status).toBeLessThan(300)
  const ch = await server.rest(
    'POST',
    `/api/businesses/${biz.body.id}/chat/channels`,
    { business_id: biz.body.id, name: unique('general').toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 64) },
    user.accessToken,
  )
  expect(ch.status).toBeLessThan(300)
  return { businessId: biz.body.id, chatId: ch.body.id, topic: ch.body.topic }
}

function TopicBodies({ topic }: { topic: string }) {
  const { events } = useTopic<{ type: string; message?: { body: string } }>(topic)
  return <span data-testid="bodies">{events.map((e) => e.data.message?.body ?? e.data.type).join('|')}</span>
}

describe('useTopic', () => {
  function Feed({ topic }: { topic: string }) {
    const { events, status } = useTopic<{ type: string; message?: { body: string } }>(topic, { limit: 2 })
    const bodies = events.filter((e) => e.data.type === 'message.created').map((e) => e.data.message?.body)
    return (
      <div>
        <span data-testid="topic-status">{status}</span>
        <span data-testid="bodies">{bodies.join('|')}</span>
      </div>
    )
  }

  it("shows another client's chat messages, keeping the last `limit`", async () => {
    const user = await registerUser(server, 'react-topic')
    const { topic, chatId } = await channelFor(user)
    const a = signedIn(user)
    const b = signedIn(user)
    const r = mount(a.client, <Feed topic={topic} />)
    await waitFor(() => expect(r.getByTestId('topic-status').textContent).toBe('live'))

    await b.client.call('chat.send', { chat_id: chatId, client_id: unique('m'), body: 'hello from b' })
    await waitFor(() => expect(r.getByTestId('bodies').textContent).toBe('hello from b'))
    await b.client.call('chat.send', { chat_id: chatId, client_id: unique('m'), body: 'second' })
    await b.client.call('chat.send', { chat_id: chatId, client_id: unique('m'), body: 'third' })
    await waitFor(() => expect(r.getByTestId('bodies').textContent).toBe('second|third'))
    // StrictMode's double mount shared one server subscription.
    expect(sentCount(a, 'sub', topic)).toBe(1)
    expect(sentCount(a, 'unsub', topic)).toBe(0)
    expect(codes([...a.errors, ...b.errors])).toEqual([])
  })
})

function Room({ chat, id }: { chat: ChatRef; id: string }) {
  const { messages, unread, typingUsers, loading, error, send, edit, markRead, setTyping } = useChannel(chat)
  const [draft, setDraft] = useState('')
  const own = messages.find((m) => m.body.startsWith(`${id}:`) && !m.pending)
  return (
    <div>
      <span data-testid={`${id}-loading`}>{error ? `error:${error.code}` : loading ? 'loading' : 'loaded'}</span>
      <span data-testid={`${id}-messages`}>{messages.map((m) => `${m.body}${m.pending ? '(pending)' : ''}`).join('|')}</span>
      <span data-testid={`${id}-unread`}>{unread}</span>
      <span data-testid={`${id}-typing`}>{typingUsers.join(',')}</span>
      <input
        data-testid={`${id}-draft`}
        value={draft}
        onChange={(e) => {
          setDraft(e.target.value)
          setTyping(e.target.value !== '')
        }}
      />
      <button
        data-testid={`${id}-send`}
        onClick={() => {
          void send(`${id}:${draft}`)
          setDraft('')
        }}
      >
        send
      </button>
      <button data-testid={`${id}-edit`} onClick={() => own && void edit(own.id, `${id}:edited`)}>
        edit
      </button>
      <button data-testid={`${id}-read`} onClick={() => void markRead()}>
        read
      </button>
    </div>
  )
}

describe('useChannel', () => {
  it("shows another member's messages, typing, edits and unread count", async () => {
    const owner = await registerUser(server, 'react-owner')
    const agent = await registerUser(server, 'react-agent')
    const { businessId, chatId, topic } = await channelFor(owner)
    const added = await server.rest('POST', `/api/businesses/${businessId}/members`, { email: agent.email, role: 'agent' }, owner.accessToken)
    expect(added.status).toBeLessThan(300)

    const a = signedIn(owner)
    const b = signedIn(agent)
    const chat = { id: chatId, topic }
    const ra = mount(a.client, <Room chat={chat} id="a" />)
    // A fresh object for the same chat on every render of B's parent: the room is not reopened.
    const rb = mount(b.client, <Room chat={{ id: chatId, topic }} id="b" />)
    await waitFor(() => expect(ra.getByTestId('a-loading').textContent).toBe('loaded'))
    await waitFor(() => expect(rb.getByTestId('b-loading').textContent).toBe('loaded'))
    // StrictMode's double mount shared one room: one history read, one subscription.
    expect(sentCount(a, 'call', 'chat.history')).toBe(1)
    expect(sentCount(a, 'sub', topic)).toBe(1)

    // B types: A sees B typing; B sends: A sees the message, unread, and B stops typing.
    fireEvent.change(rb.getByTestId('b-draft'), { target: { value: 'hello' } })
    await waitFor(() => expect(ra.getByTestId('a-typing').textContent).toBe(agent.id))
    fireEvent.click(rb.getByTestId('b-send'))
    await waitFor(() => expect(ra.getByTestId('a-messages').textContent).toBe('b:hello'))
    await waitFor(() => expect(rb.getByTestId('b-messages').textContent).toBe('b:hello'))
    await waitFor(() => expect(ra.getByTestId('a-typing').textContent).toBe(''))
    expect(ra.getByTestId('a-unread').textContent).toBe('1')
    fireEvent.click(ra.getByTestId('a-read'))
    await waitFor(() => expect(ra.getByTestId('a-unread').textContent).toBe('0'))

    // The topic hook sees the same stream.
    const rt = mount(a.client, <TopicBodies topic={topic} />)
    await waitFor(() => expect(rt.getByTestId('bodies').textContent).toBe('b:hello'))

    fireEvent.click(rb.getByTestId('b-edit'))
    await waitFor(() => expect(ra.getByTestId('a-messages').textContent).toBe('b:edited'))

    fireEvent.change(ra.getByTestId('a-draft'), { target: { value: 'hi' } })
    fireEvent.click(ra.getByTestId('a-send'))
    await waitFor(() => expect(rb.getByTestId('b-messages').textContent).toBe('b:edited|a:hi'))
    await waitFor(() => expect(ra.getByTestId('a-messages').textContent).toBe('b:edited|a:hi'))
    expect(codes([...a.errors, ...b.errors])).toEqual([])
  })
})

// Last: it restarts the server.
describe('useStatus', () => {
  it('goes connected → reconnecting → connected across a server restart', async () => {
    const name = unique('react-restart')
    const a = makeClient()
    const b = makeClient()
    const log: Status[] = []
    const ra = mount(
      a.client,
      <>
        <StatusLog log={log} />
        <Editor name={name} id="a" />
      </>,
    )
    const rb = mount(b.client, <Editor name={name} id="b" />)
    await waitFor(() => expect(ra.getByTestId('status').textContent).toBe('connected'))
    await waitFor(() => expect(ra.getByTestId('a-ready').textContent).toBe('ready'))

    await server.restart()
    await waitFor(() => expect(log).toContain('reconnecting'))
    await waitFor(() => expect(ra.getByTestId('status').textContent).toBe('connected'), { timeout: 20_000 })
    expect(log.slice(log.indexOf('connected'))).toEqual(['connected', 'reconnecting', 'connected'])

    // The document re-synced on the new connection.
    fireEvent.click(ra.getByTestId('a-type'))
    await waitFor(() => expect(rb.getByTestId('b-text').textContent).toBe('a'), { timeout: 20_000 })
  })
})
