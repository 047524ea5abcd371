// Identity and roles with unmodified clients: a server without --allow-anonymous-docs,
// accounts and a business made over REST, then y-websocket and Hocuspocus providers
// signing in with access tokens. A viewer reads but its edits are refused (never
// applied or stored); no token or a forged one is refused; a downgrade reaches an
// open provider without reconnecting.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Env, Y, uniqueName, waitSynced, waitText, waitFor, holdsFor, textOf, describeClient } from './harness.mjs'

const env = new Env()
let api
before(async () => {
  const server = await env.start({ extraArgs: [] })
  api = new Api(`http://127.0.0.1:${server.port}`)
})
after(async () => { await env.cleanup() })

/** A tiny REST client for the operations the tests need. */
class Api {
  constructor (base) { this.base = base }
  async call (method, params, token) {
    const res = await fetch(`${this.base}/api/ops/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(params)
    })
    const body = await res.json()
    if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(body)}`)
    return body
  }

  async register (name) {
    const email = `${name}-${Math.random().toString(36).slice(2)}@example.com`
    const r = await this.call('auth.register', { email, password: 'correct horse battery', display_name: name })
    const tokens = r.tokens ?? r
    return { email, token: tokens.access_token, id: r.user?.id ?? r.user_id }
  }
}

/** owner, editor (agent) and viewer of one new business. */
async function shop () {
  const owner = await api.register('owner')
  const editor = await api.register('editor')
  const viewer = await api.register('viewer')
  const biz = await api.call('business.create', { name: 'Interop Shop' }, owner.token)
  await api.call('member.add', { business_id: biz.id, email: editor.email, role: 'agent' }, owner.token)
  await api.call('member.add', { business_id: biz.id, email: viewer.email, role: 'viewer' }, owner.token)
  return { owner, editor, viewer, biz, doc: `biz/${biz.id}/${uniqueName('inventory')}` }
}

test('y-websocket: a viewer syncs and reads, its edits are refused and never stored', env.run(async ({ clients }) => {
  const { owner, viewer, doc } = await shop()
  const o = clients.yws(doc, { params: { token: owner.token } })
  await waitSynced([o])
  o.doc.getText('text').insert(0, 'rice 20kg')
  const v = clients.yws(doc, { params: { token: viewer.token } })
  await waitSynced([v])
  await waitText(v, 'rice 20kg')
  v.doc.getText('text').insert(0, 'VIEWER WAS HERE ')
  await holdsFor(() => textOf(o) === 'rice 20kg', 1000, { what: "the owner never sees the viewer's edit", detail: () => textOf(o) })
  // a fresh client gets the stored state: the refused edit was not kept
  const late = clients.yws(doc, { params: { token: owner.token } })
  await waitSynced([late])
  assert.equal(textOf(late), 'rice 20kg', describeClient(late))
  assert.equal(v.provider.wsconnected, true, 'the viewer stays connected (no reconnect loop)')
}))

test('y-websocket: no token or a forged token is refused with 4401', env.run(async ({ clients }) => {
  const { owner, doc } = await shop()
  const anon = clients.yws(doc)
  const [h, p, s] = owner.token.split('.')
  const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), adm: true })).toString('base64url')
  const forged = clients.yws(doc, { params: { token: `${h}.${forgedPayload}.${s}` } })
  const none = clients.yws(doc, { params: { token: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.` } })
  for (const c of [anon, forged, none]) {
    await waitFor(() => c.events.closes.some(e => e?.code === 4401), { what: 'close 4401', detail: () => JSON.stringify(c.events.closes) })
    assert.equal(c.provider.synced, false)
  }
}))

test('hocuspocus: a viewer is authenticated readonly and its edits are refused', env.run(async ({ clients }) => {
  const { owner, viewer, doc } = await shop()
  const o = clients.hocus(doc, { token: owner.token })
  await waitSynced([o])
  assert.deepEqual(o.events.authenticated, ['read-write'])
  o.doc.getText('text').insert(0, 'beans 5kg')
  const v = clients.hocus(doc, { token: viewer.token })
  await waitSynced([v])
  assert.deepEqual(v.events.authenticated, ['readonly'], describeClient(v))
  assert.equal(v.provider.authorizedScope, 'readonly')
  await waitText(v, 'beans 5kg')
  v.doc.getText('text').insert(0, 'VIEWER ')
  await holdsFor(() => textOf(o) === 'beans 5kg', 1000, { what: "the owner never sees the viewer's edit", detail: () => textOf(o) })
  const late = clients.hocus(doc, { token: owner.token })
  await waitSynced([late])
  assert.equal(textOf(late), 'beans 5kg')
}))

test('hocuspocus: a forged token and a stranger are refused', env.run(async ({ clients }) => {
  const { owner, doc } = await shop()
  const stranger = await api.register('stranger')
  const forged = clients.hocus(doc, { token: owner.token.slice(0, -4) + 'AAAA' })
  const other = clients.hocus(doc, { token: stranger.token })
  const anon = clients.hocus(doc)
  for (const c of [forged, other, anon]) {
    await waitFor(() => c.events.authFailed.length > 0, { what: 'authenticationFailed', detail: () => describeClient(c) })
    assert.equal(c.provider.isSynced, false)
  }
  assert.match(forged.events.authFailed[0], /^unauthorized/)
  assert.match(other.events.authFailed[0], /^forbidden/)
  assert.match(anon.events.authFailed[0], /^unauthorized/)
}))

test('a downgrade reaches open providers within a second, without reconnecting', env.run(async ({ clients }) => {
  const { owner, editor, doc, biz } = await shop()
  const o = clients.hocus(doc, { token: owner.token })
  const h = clients.hocus(doc, { token: editor.token })
  const y = clients.yws(doc, { params: { token: editor.token } })
  await waitSynced([o, h, y])
  h.doc.getText('text').insert(0, 'a')
  await waitText(o, 'a')
  const t0 = Date.now()
  await api.call('member.set_role', { business_id: biz.id, user_id: editor.id, role: 'viewer' }, owner.token)
  await waitFor(() => h.events.authenticated.includes('readonly'), { timeout: 1000, what: 'readonly scope pushed', detail: () => describeClient(h) })
  assert.ok(Date.now() - t0 < 1000)
  h.doc.getText('text').insert(1, 'b')
  y.doc.getText('text').insert(0, 'c')
  await holdsFor(() => textOf(o) === 'a', 800, { what: 'downgraded edits refused', detail: () => textOf(o) })
  // removal closes the y-websocket socket with 4403
  await api.call('member.remove', { business_id: biz.id, user_id: editor.id }, owner.token)
  await waitFor(() => y.events.closes.some(e => e?.code === 4403), { timeout: 1000, what: 'close 4403', detail: () => JSON.stringify(y.events.closes) })
  await waitFor(() => h.events.authFailed.length > 0, { timeout: 1000, what: 'hocuspocus permission denied' })
}))
