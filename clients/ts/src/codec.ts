//! MessagePack encoding of native frames (docs/protocol.md §2.1).
//!
//! msgpackr with records disabled, so every frame is a standard MessagePack map.
//! 64-bit integers are mapped deliberately:
//! - Decoding: `uint64`/`int64` become JavaScript numbers. Every integer the
//!   server sends (sequence numbers, epoch milliseconds, ids, presence client
//!   ids) stays below 2^53, where numbers are exact.
//! - Encoding: msgpackr writes integral numbers outside the 32-bit range as
//!   float64, which the server refuses (`bad_frame`) and which would turn an
//!   integer parameter (an amount in minor units) into a float. Such numbers are
//!   written as 64-bit integers instead. Integers beyond 2^53 cannot be
//!   represented exactly by a JavaScript number; pass a `bigint` for those.
//!
//! The codec never touches `TextDecoder`/`TextEncoder` at import time (msgpackr
//! guards its own use), so it loads on Hermes.

import { Packr, Unpackr } from 'msgpackr'
import type { ClientFrame, ServerFrame } from './frames.js'

let packr: Packr | undefined
let unpackr: Unpackr | undefined

// Created on first use, not at import: nothing runs when the module loads.
function codecs(): [Packr, Unpackr] {
  if (!packr || !unpackr) {
    // `skipValues` leaves `undefined` fields out (they are "absent", §2.1);
    // msgpackr's typings do not list it.
    const packOptions: Record<string, unknown> = {
      useRecords: false,
      mapsAsObjects: true,
      variableMapSize: true,
      skipValues: [undefined],
    }
    packr = new Packr(packOptions)
    unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })
  }
  return [packr, unpackr]
}

const INT32_MIN = -0x8000_0000
const UINT32_MAX = 0xffff_ffff

/**
 * Copies `value` with every integral number outside the 32-bit range turned
 * into a `bigint`, so it is packed as a MessagePack integer. Binary data and
 * anything without such numbers is returned as is (no copy).
 */
export function wideIntsToBigInt(value: unknown, depth = 0): unknown {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && (value > UINT32_MAX || value < INT32_MIN)) {
      return BigInt(value)
    }
    return value
  }
  if (value === null || typeof value !== 'object' || depth > 64) return value
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v = wideIntsToBigInt(value[i], depth + 1)
      if (v !== value[i]) {
        out ??= value.slice()
        out[i] = v
      }
    }
    return out ?? value
  }
  let out: Record<string, unknown> | undefined
  const obj = value as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    const v = wideIntsToBigInt(obj[key], depth + 1)
    if (v !== obj[key]) {
      out ??= { ...obj }
      out[key] = v
    }
  }
  return out ?? value
}

/** Encodes one client frame as the bytes of one binary WebSocket message. */
export function encodeFrame(frame: ClientFrame): Uint8Array {
  const [p] = codecs()
  return p.pack(wideIntsToBigInt(frame))
}

/** Frame types this SDK understands; others are ignored (forward compatibility, §2.11). */
const KNOWN = new Set([
  'welcome',
  'authenticated',
  'reauth',
  'reply',
  'access',
  'sync',
  'awareness',
  'ack',
  'pong',
  'error',
  'event',
  'gap',
  'subscribed',
  'unsubscribed',
  'presence',
])

/**
 * Decodes one binary message. Returns `undefined` for a frame of a type this
 * SDK does not know; throws on bytes that are not a MessagePack map with a
 * string `type`.
 */
export function decodeFrame(bytes: Uint8Array): ServerFrame | undefined {
  const [, u] = codecs()
  const value: unknown = u.unpack(bytes)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('server frame is not a MessagePack map')
  }
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string') throw new TypeError('server frame has no string `type`')
  if (!KNOWN.has(type)) return undefined
  const frame = value as Record<string, unknown>
  // `bin` arrives as a Node Buffer under Node; Yjs wants a plain view.
  if ((type === 'sync' || type === 'awareness') && !(frame.data instanceof Uint8Array)) {
    throw new TypeError(`\`${type}\` frame without binary \`data\``)
  }
  return frame as unknown as ServerFrame
}
