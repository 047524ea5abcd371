//! `useStatus()` and `useUser()`: the connection's state for a status badge or
//! a sign-in gate.

import type { Status } from '../connection-options.js'
import { useClient } from './context.js'
import { useStore } from './store.js'

/** The connection status: `connecting`, `connected`, `reconnecting`, `offline`, `unauthorized` or `closed`. */
export function useStatus(): Status {
  return useStore(useClient().status)
}

/** The signed-in user's id, or null on an anonymous connection (or before the first connect). */
export function useUser(): string | null {
  return useStore(useClient().user)
}
