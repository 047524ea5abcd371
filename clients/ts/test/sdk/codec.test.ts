//! Codec interop with the server, byte for byte, both ways (docs/protocol.md §2.1).
//!
//! - `test/fixtures/rust-frames.json` is written by the Rust protocol crate
//!   (`protocol/tests/sdk_fixtures.rs`): every server frame in it must decode with
//!   `decodeFrame` to its `json`, and the SDK's encoding of every client frame in
//!   it must carry the same value as the Rust bytes.
//! - `test/fixtures/sdk-frames.json` holds client frames encoded by `encodeFrame`.
//!   With `UPDATE_FIXTURES=1` this test rewrites it; otherwise it checks the SDK
//!   still writes exactly those bytes. The Rust test decodes every one with the
//!   server's decoder and compares it with its `json`.
//!
//! Fixture entries are `{name, direction, hex, json}`; in `json`, binary fields
//! are `{"$bin": "<lowercase hex>"}`.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Packr, Unpackr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeFrame } from '../../src/codec.js'
import type { ClientFrame } from '../../src/frames.js'

interface Fixture {
  name: string
  direction: 'server' | 'client'
  hex: string
  json: unknown
}

const here = path.dirname(fileURLToPath(import.meta.url))
const fixtures = path.resolve(here, '../fixtures')
const RUST_FRAMES = path.join(fixtures, 'rust-frames.json')
const SDK_FRAMES = path.join(fixtures, 'sdk-frames.json')
const UPDATE = process.env.UPDATE_FIXTURES === '1'

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** A decoded value as fixture JSON: bytes become `{$bin}`; a bigint is an error (all fixture ints are < 2^53). */
function toJsonish(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bin: toHex(value) }
  if (typeof value === 'bigint') throw new Error(`unexpected bigint ${value}`)
  if (Array.isArray(value)) return value.map(toJsonish)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toJsonish(v)
    }
    return out
  }
  return value
}

/** Fixture JSON as a value to encode: `{$bin}` becomes a Uint8Array. */
function fromJsonish(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonish)
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj)
    if (keys.length === 1 && typeof obj.$bin === 'string') return fromHex(obj.$bin)
    return Object.fromEntries(keys.map((k) => [k, fromJsonish(obj[k])]))
  }
  return value
}

// Standard MessagePack decoding (no records); 64-bit ints as numbers when
// exact, bigint otherwise, so an out-of-range value would fail the comparison.
// ('auto' is supported by msgpackr at runtime but missing from its typings.)
const standard = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'auto' as unknown as 'number',
})

function readFixtures(file: string): Fixture[] {
  return JSON.parse(readFileSync(file, 'utf8')) as Fixture[]
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER // 2^53 - 1
const TOPIC = 'biz/0193a4c2-0000-7000-8000-000000000001/chat/general'
const UPDATE_BYTES = [0x02, 0x0c, 0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x68, 0x69, 0x00]
const AWARENESS_BYTES = [0x01, 0x01, 0x01, 0x0e, ...Array.from('{"user":"ann"}', (c) => c.charCodeAt(0))]

/** Every client frame type as the SDK builds it, with the values JS encoders get wrong. */
const SDK_FRAMES_SOURCE: Array<[string, ClientFrame]> = [
  ['hello_minimal', { type: 'hello', version: 1 }],
  ['hello_full', { type: 'hello', version: 1, client: '@goonline/client 0.1.0', token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln' }],
  ['auth', { type: 'auth', token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.bmV3' }],
  [
    'call_nested_params',
    {
      type: 'call',
      id: 7,
      method: 'orders.create',
      params: {
        business_id: '0193a4c2-0000-7000-8000-000000000001',
        lines: [
          { sku: 'tea', qty: 2, price_minor: 2 ** 32 },
          { sku: 'cake', qty: 1, price_minor: MAX_SAFE },
        ],
        meta: { note: null, gift: true, ratio: 0.25, delta: -5, wide_negative: -(2 ** 40), text: 'héllo 👋' },
        tags: [],
      },
      idempotency_key: '3f1e2d4c-order-1',
    },
  ],
  ['call_without_params', { type: 'call', id: 8, method: 'me.get' }],
  ['call_large_id', { type: 'call', id: MAX_SAFE, method: 'me.get', params: {} }],
  ['open_with_id', { type: 'open', doc: 'biz/b1/notes', id: 1 }],
  ['open_without_id', { type: 'open', doc: 'notes' }],
  // An optional field set to `undefined` is left out, never sent as nil.
  ['open_id_undefined', { type: 'open', doc: 'notes', id: undefined }],
  ['close', { type: 'close', doc: 'notes' }],
  ['sync_step1_empty', { type: 'sync', doc: 'notes', data: new Uint8Array([0x00, 0x01, 0x00]) }],
  ['sync_update_with_id', { type: 'sync', doc: 'notes', data: new Uint8Array(UPDATE_BYTES), id: 2 }],
  ['awareness', { type: 'awareness', doc: 'notes', data: new Uint8Array(AWARENESS_BYTES) }],
  ['sub_since_wide', { type: 'sub', topic: TOPIC, since: 2 ** 40, id: 3 }],
  ['sub_plain', { type: 'sub', topic: TOPIC }],
  ['unsub', { type: 'unsub', topic: TOPIC }],
  ['presence_set', { type: 'presence', topic: TOPIC, state: { typing: true, name: 'Ann' } }],
  ['presence_clear', { type: 'presence', topic: TOPIC, state: null }],
  ['ping_max_safe', { type: 'ping', ts: MAX_SAFE }],
  ['ping_2_32', { type: 'ping', ts: 2 ** 32 }],
  ['ping_empty', { type: 'ping' }],
]

describe('server frames written by the Rust crate', () => {
  const entries = readFixtures(RUST_FRAMES).filter((e) => e.direction === 'server')

  it('covers every server frame type', () => {
    const types = new Set(entries.map((e) => (e.json as { type: string }).type))
    expect([...types].sort()).toEqual(
      ['access', 'ack', 'authenticated', 'awareness', 'error', 'event', 'gap', 'pong', 'presence', 'reauth', 'reply', 'subscribed', 'sync', 'unsubscribed', 'welcome'].sort(),
    )
  })

  for (const e of entries) {
    it(`decodes ${e.name}`, () => {
      const frame = decodeFrame(fromHex(e.hex))
      expect(frame, 'a known frame type').toBeDefined()
      expect(toJsonish(frame)).toEqual(e.json)
      if (frame && (frame.type === 'sync' || frame.type === 'awareness')) {
        expect(frame.data).toBeInstanceOf(Uint8Array)
      }
    })
  }

  it('keeps integers up to 2^53 - 1 exact (uint64 `cf` as numbers)', () => {
    const pong = entries.find((e) => e.name === 'pong_max_safe')
    expect(pong?.hex).toContain('cf001fffffffffffff')
    const frame = decodeFrame(fromHex(pong!.hex))
    expect(frame).toEqual({ type: 'pong', ts: MAX_SAFE })
    const presence = decodeFrame(fromHex(entries.find((e) => e.name === 'presence')!.hex))
    expect(presence?.type === 'presence' && presence.entries[0]?.client).toBe(2 ** 52 + 5)
  })
})

describe('client frames written by the Rust crate', () => {
  const entries = readFixtures(RUST_FRAMES).filter((e) => e.direction === 'client')

  for (const e of entries) {
    it(`${e.name}: the SDK encodes the same value`, () => {
      const rust = toJsonish(standard.unpack(fromHex(e.hex)))
      expect(rust).toEqual(e.json)
      const ours = encodeFrame(fromJsonish(e.json) as ClientFrame)
      expect(toJsonish(standard.unpack(ours))).toEqual(rust)
    })
  }
})

describe('client frames written by the SDK (sdk-frames.json)', () => {
  const encoded: Fixture[] = SDK_FRAMES_SOURCE.map(([name, frame]) => ({
    name,
    direction: 'client',
    hex: toHex(encodeFrame(frame)),
    json: toJsonish(frame),
  }))

  if (UPDATE) {
    it('rewrites the fixture file', () => {
      writeFileSync(SDK_FRAMES, JSON.stringify(encoded, null, 2) + '\n')
    })
  } else {
    it('encodeFrame still writes the checked-in bytes', () => {
      expect(
        existsSync(SDK_FRAMES),
        `${SDK_FRAMES} is missing: run UPDATE_FIXTURES=1 npx vitest run test/sdk/codec.test.ts`,
      ).toBe(true)
      const stored = readFixtures(SDK_FRAMES)
      expect(stored.map((e) => e.name)).toEqual(encoded.map((e) => e.name))
      for (const [i, e] of encoded.entries()) {
        expect(
          e,
          `${e.name} changed: if intended, run UPDATE_FIXTURES=1 npx vitest run test/sdk/codec.test.ts, ` +
            'then cargo nextest run -p goonline-protocol --test sdk_fixtures',
        ).toEqual(stored[i])
      }
    })
  }

  it('writes integers beyond 32 bits as MessagePack integers, never float64', () => {
    const hex = (name: string) => encoded.find((e) => e.name === name)!.hex
    // A MessagePack integer: msgpackr writes bigints as int64 `d3` (the server
    // takes any integer encoding for unsigned fields); float64 would be `cb`.
    expect(hex('ping_2_32')).toMatch(/^82a474797065a470696e67a27473(cf|d3)0000000100000000$/)
    expect(hex('ping_max_safe')).toMatch(/^82a474797065a470696e67a27473(cf|d3)001fffffffffffff$/)
    expect(hex('sub_since_wide')).toMatch(/a573696e6365(cf|d3)0000010000000000/)
    const call = hex('call_nested_params')
    expect(call).toMatch(/ab70726963655f6d696e6f72(cf|d3)0000000100000000/) // price_minor: 2^32
    expect(call).toContain('ad776964655f6e65676174697665d3ffffff0000000000') // wide_negative: -2^40
    for (const e of encoded) expect(fromHex(e.hex).includes(0xcb), `${e.name} holds a float64`).toBe(e.name === 'call_nested_params')
    // Integral values inside params stay integers after a round trip.
    const back = standard.unpack(fromHex(call)) as { params: { lines: Array<{ price_minor: unknown }> } }
    expect(back.params.lines.map((l) => l.price_minor)).toEqual([2 ** 32, MAX_SAFE])
  })

  it('leaves out optional fields set to undefined', () => {
    const a = encoded.find((e) => e.name === 'open_id_undefined')!
    const b = encoded.find((e) => e.name === 'open_without_id')!
    expect(a.hex).toBe(b.hex)
  })
})

describe('decodeFrame', () => {
  const packr = new Packr({ useRecords: false })

  it('returns undefined for a server frame type it does not know', () => {
    expect(decodeFrame(packr.pack({ type: 'shiny_new_frame', id: 1, data: { x: 1 } }))).toBeUndefined()
  })

  it('ignores unknown fields of known frames', () => {
    const frame = decodeFrame(packr.pack({ type: 'pong', ts: 42, extra: 'later versions may add fields' }))
    expect(frame).toMatchObject({ type: 'pong', ts: 42 })
  })

  it('throws on bytes that are not a frame', () => {
    expect(() => decodeFrame(packr.pack([1, 2, 3]))).toThrow(TypeError)
    expect(() => decodeFrame(packr.pack({ no_type: true }))).toThrow(TypeError)
    expect(() => decodeFrame(packr.pack({ type: 'sync', doc: 'd', data: 'not binary' }))).toThrow(TypeError)
  })
})
