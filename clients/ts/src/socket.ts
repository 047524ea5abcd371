//! The WebSocket the client drives, as a minimal structural type: browsers'
//! `WebSocket`, React Native's, and Node's `ws` all fit. Only the `on*`
//! handler properties are used (React Native and Hermes have no EventTarget).

/**
 * What the SDK needs of a WebSocket object. The handlers' event parameters are
 * `any` so that every implementation's own event types fit (the DOM's, `ws`'s,
 * React Native's); the SDK reads only `data`, `code` and `reason`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((ev: any) => void) | null
  onmessage: ((ev: any) => void) | null
  onclose: ((ev: any) => void) | null
  onerror: ((ev: any) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

/** A WebSocket constructor (`WebSocket`, or `ws`'s default export under Node). */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** The platform's WebSocket, looked up when a connection starts (not at import). */
export function defaultWebSocket(): WebSocketConstructor {
  const ws = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (!ws) {
    throw new TypeError('no global WebSocket: pass `WebSocket` to createClient (e.g. `import WebSocket from "ws"` under Node)')
  }
  return ws
}

/**
 * The bytes of a binary message. With `binaryType = 'arraybuffer'` browsers and
 * React Native deliver an ArrayBuffer; `ws` may deliver a Buffer or an array of
 * fragments. Text frames (a string) and Blobs give `undefined`.
 */
export function messageBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (Array.isArray(data) && data.every((d) => ArrayBuffer.isView(d))) {
    const parts = data as Uint8Array[]
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.byteLength
    }
    return out
  }
  return undefined
}

/** Builds the native endpoint URL: `/v1/ws` is appended unless the URL already ends with it. */
export function endpointUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '')
  return trimmed.endsWith('/v1/ws') ? trimmed : `${trimmed}/v1/ws`
}
