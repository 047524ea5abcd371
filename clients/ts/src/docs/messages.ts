//! y-protocols sync messages (docs/protocol.md §3.2): the `data` of native
//! `sync` frames. Built with y-protocols' own writers so the bytes are exactly
//! those of `syncProtocol.writeSyncStep1/2/writeUpdate` (native frames carry
//! no y-websocket message-type prefix).

import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import type * as Y from 'yjs'

export const STEP1 = syncProtocol.messageYjsSyncStep1
export const STEP2 = syncProtocol.messageYjsSyncStep2
export const UPDATE = syncProtocol.messageYjsUpdate

/** SyncStep1 carrying `doc`'s state vector: "send me what I lack". */
export function syncStep1(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder()
  syncProtocol.writeSyncStep1(e, doc)
  return encoding.toUint8Array(e)
}

/** SyncStep2 carrying a ready-made v1 update (what the receiver lacks). */
export function syncStep2(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, STEP2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

/** An Update message carrying one (possibly merged) v1 update. */
export function syncUpdate(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  syncProtocol.writeUpdate(e, update)
  return encoding.toUint8Array(e)
}

/** A decoded sync message: its tag (STEP1/STEP2/UPDATE) and payload. */
export interface SyncMessage {
  tag: number
  payload: Uint8Array
}

/** Reads one sync message; throws on bytes that are not one. */
export function readSyncMessage(data: Uint8Array): SyncMessage {
  const d = decoding.createDecoder(data)
  const tag = decoding.readVarUint(d)
  if (tag !== STEP1 && tag !== STEP2 && tag !== UPDATE) throw new TypeError(`unknown sync message tag ${tag}`)
  const payload = decoding.readVarUint8Array(d)
  return { tag, payload }
}
