//! `useCall`: a typed operation (`client.call`) as React state — `data`,
//! `error`, `loading` — for forms and buttons.
//!
//! Only the latest call of a component updates its state: an older call that
//! finishes later, and any call that finishes after the component unmounted,
//! is ignored (its promise still settles for whoever awaits it).

import { useCallback, useEffect, useRef, useState } from 'react'
import type { CallArgs } from '../client.js'
import type { GoOnlineError } from '../errors.js'
import type { MethodName, ResultOf } from '../methods.js'
import { useClient } from './context.js'

/** What `call` resolves with: never a rejection, so a click handler can call it as is. */
export type CallOutcome<R> = { data: R; error: null } | { data: undefined; error: GoOnlineError }

export interface UseCallResult<M extends MethodName> {
  /**
   * Runs the operation (`client.call(method, params, opts)`). Resolves with
   * `{ data }` or `{ error }` and never rejects. Stable across renders.
   */
  call: (...args: CallArgs<M>) => Promise<CallOutcome<ResultOf<M>>>
  /** The result of the latest successful call (kept while a new call runs). */
  data: ResultOf<M> | undefined
  /** The error of the latest call, with the server's `code` (`invalid_argument`, `forbidden`…). */
  error: GoOnlineError | null
  /** The latest call is running. */
  loading: boolean
  /** Back to the initial state; a call still running is ignored. */
  reset: () => void
}

interface CallState<R> {
  data: R | undefined
  error: GoOnlineError | null
  loading: boolean
}

const IDLE: CallState<never> = { data: undefined, error: null, loading: false }

/** A typed operation bound to the component: `const { call, data, error, loading } = useCall('business.create')`. */
export function useCall<M extends MethodName>(method: M): UseCallResult<M> {
  const client = useClient()
  const [state, setState] = useState<CallState<ResultOf<M>>>(IDLE)
  // Bumped by every call and by reset: a settling call updates state only if
  // it is still the latest.
  const latest = useRef(0)
  const mounted = useRef(false)
  useEffect(() => {
    // Set here (not at declaration) so StrictMode's remount turns it back on.
    mounted.current = true
    return () => {
      mounted.current = false
    }
  }, [])

  const call = useCallback(
    async (...args: CallArgs<M>): Promise<CallOutcome<ResultOf<M>>> => {
      const n = ++latest.current
      const current = () => mounted.current && n === latest.current
      setState((s) => ({ data: s.data, error: null, loading: true }))
      try {
        const data = await client.call(method, ...args)
        if (current()) setState({ data, error: null, loading: false })
        return { data, error: null }
      } catch (e) {
        const error = asError(e)
        if (current()) setState((s) => ({ data: s.data, error, loading: false }))
        return { data: undefined, error }
      }
    },
    [client, method],
  )

  const reset = useCallback(() => {
    latest.current += 1
    setState(IDLE)
  }, [])

  return { call, data: state.data, error: state.error, loading: state.loading, reset }
}

/**
 * The SDK rejects with `GoOnlineError`; anything else (a `TypeError` for a
 * misuse such as `whileOffline: 'queue'` without a key) is wrapped with the
 * code `client_error` (the original as `cause`), so `error.code` is always
 * there. Checked by shape, not `instanceof`: this entry point is bundled apart
 * from the core, so the classes are not shared.
 */
function asError(e: unknown): GoOnlineError {
  if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string') return e as GoOnlineError
  const message = e instanceof Error ? e.message : String(e)
  return Object.assign(new Error(message, { cause: e }), { name: 'GoOnlineError', code: 'client_error' }) as unknown as GoOnlineError
}
