//! Random ids for chat messages (`client_id`) and idempotency keys, made on
//! the device before anything is sent, so a resend is recognised as the same
//! message (docs/protocol.md §10.6).

/**
 * 32 hex characters (128 bits): `crypto.getRandomValues` where the platform
 * has it (browsers, Node 20, React Native with a polyfill), else `Math.random`
 * (unique enough for message ids; they are not secrets).
 */
export function randomId(): string {
  const bytes = new Uint8Array(16)
  const crypto = (globalThis as { crypto?: Crypto }).crypto
  if (crypto && typeof crypto.getRandomValues === 'function') {
    crypto.getRandomValues(bytes)
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  }
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}
