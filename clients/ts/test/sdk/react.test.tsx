// @vitest-environment happy-dom
// @vitest-environment-options { "settings": { "fetch": { "disableSameOriginPolicy": true } } }
// (happy-dom's fetch would block `server.rest` as cross-origin.)

// The React bindings (`@goonline/client/react`) against the real server, every
// tree wrapped in <StrictMode> so effects mount, unmount and mount again:
// provider, documents, presence and status.
import { StrictMode, useEffect } from 'react'
import { fireEvent, render, waitFor } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import { type Status } from '../../src/index.js'
import {
  GoOnlineProvider,
  useClient,
  useDoc,
  useOthers,
  usePresence,
  useStatus,
  useSyncStatus,
} from '../../src/react/index.js'
import { unique } from '../support/server.js'
import { codes, makeClient, mount, sentCount, server, socketsMade, useText } from './_react_support.js'


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
    const socketsBefore = socketsMade
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

    expect(socketsMade - socketsBefore).toBe(2) // one per client
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
