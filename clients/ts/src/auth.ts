//! The app's `auth` function, as the connection asks it: one request at a
//! time, because a refresh token works once and two concurrent refreshes
//! would revoke the sign-in.

import { UnauthorizedError } from './errors.js'

/** Why `auth` is being asked for a token. */
export interface AuthContext {
  /** `connect`: a (re)connect; `reauth`: the server says the token expired; `rejected`: the last token was refused (refresh it). */
  reason: 'connect' | 'reauth' | 'rejected'
}

/**
 * Returns the access token to connect with, or `null` to connect anonymously.
 * Throw {@link UnauthorizedError} to stop connecting (status `unauthorized`).
 */
export type AuthFn = (ctx: AuthContext) => Promise<string | null | undefined> | string | null | undefined

/** Asks `auth` for tokens; a request made while one runs joins it. */
export class TokenSource {
  private pending: Promise<string | null | undefined> | undefined

  constructor(private readonly auth: AuthFn | undefined) {}

  get(reason: AuthContext['reason']): Promise<string | null | undefined> {
    const auth = this.auth
    if (!auth) return Promise.resolve(null)
    if (!this.pending) {
      const p = Promise.resolve().then(() => auth({ reason }))
      const done = () => {
        if (this.pending === p) this.pending = undefined
      }
      p.then(done, done)
      this.pending = p
    }
    return this.pending
  }
}

/** `UnauthorizedError`, also from another copy of the package (ESM next to CJS). */
export function isUnauthorized(e: unknown): boolean {
  return e instanceof UnauthorizedError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'UnauthorizedError')
}
