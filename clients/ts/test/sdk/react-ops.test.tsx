// @vitest-environment happy-dom
// @vitest-environment-options { "settings": { "fetch": { "disableSameOriginPolicy": true } } }
// (happy-dom's fetch would block `server.rest` as cross-origin.)

// The React bindings for operations, topics and chat rooms against the real
// server, every tree wrapped in <StrictMode>.
import { useEffect, useState } from 'react'
import { fireEvent, waitFor } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { useCall, useChannel, useTopic, type ChatRef } from '../../src/react/index.js'
import { registerUser, unique, type TestUser } from '../support/server.js'
import { codes, mount, sentCount, server, signedIn } from './_react_support.js'


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

