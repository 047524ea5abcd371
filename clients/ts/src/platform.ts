//! Online/foreground signals, injected instead of sniffed from globals (React
//! Native's `window` is not an EventTarget). Nothing here runs at import time.

/** Signals from the platform the client runs on. Every method is optional. */
export interface Platform {
  /** Calls `cb(online)` when the network comes and goes; returns the unsubscribe. */
  onNetworkChange?(cb: (online: boolean) => void): () => void
  /** Calls `cb(foreground)` when the app or tab comes to the front or leaves it. */
  onForegroundChange?(cb: (foreground: boolean) => void): () => void
  /** Whether the network is up now (assumed up when unknown). */
  isOnline?(): boolean
}

/** Signals of a browser: `online`/`offline` and `visibilitychange`. */
export function webPlatform(): Platform {
  const g = globalThis as {
    addEventListener?: (t: string, f: () => void) => void
    removeEventListener?: (t: string, f: () => void) => void
    navigator?: { onLine?: boolean }
    document?: {
      visibilityState?: string
      addEventListener?: (t: string, f: () => void) => void
      removeEventListener?: (t: string, f: () => void) => void
    }
  }
  return {
    onNetworkChange(cb) {
      if (typeof g.addEventListener !== 'function' || typeof g.removeEventListener !== 'function') {
        return () => {}
      }
      const on = () => cb(true)
      const off = () => cb(false)
      g.addEventListener('online', on)
      g.addEventListener('offline', off)
      return () => {
        g.removeEventListener?.('online', on)
        g.removeEventListener?.('offline', off)
      }
    },
    onForegroundChange(cb) {
      const doc = g.document
      if (!doc || typeof doc.addEventListener !== 'function') return () => {}
      const change = () => cb(doc.visibilityState !== 'hidden')
      doc.addEventListener('visibilitychange', change)
      return () => doc.removeEventListener?.('visibilitychange', change)
    },
    isOnline() {
      return g.navigator?.onLine !== false
    },
  }
}

/** The parts of React Native's `AppState` the adapter uses. */
export interface AppStateLike {
  currentState?: string | null
  addEventListener(type: 'change', cb: (state: string) => void): { remove(): void }
}

/** The parts of `@react-native-community/netinfo` the adapter uses. */
export interface NetInfoLike {
  addEventListener(cb: (state: { isConnected: boolean | null; isInternetReachable?: boolean | null }) => void): () => void
}

/**
 * Signals of a React Native app, from its `AppState` and (optionally) a
 * NetInfo-like module: `reactNativePlatform({ AppState, NetInfo })`.
 */
export function reactNativePlatform(deps: { AppState?: AppStateLike; NetInfo?: NetInfoLike }): Platform {
  let online = true
  return {
    onNetworkChange(cb) {
      if (!deps.NetInfo) return () => {}
      return deps.NetInfo.addEventListener((state) => {
        // null means "not known yet": keep the last answer.
        const now = state.isConnected === false || state.isInternetReachable === false ? false : state.isConnected === true ? true : online
        if (now !== online) {
          online = now
          cb(now)
        }
      })
    },
    onForegroundChange(cb) {
      if (!deps.AppState) return () => {}
      const sub = deps.AppState.addEventListener('change', (state) => cb(state === 'active'))
      return () => sub.remove()
    },
    isOnline() {
      return online
    },
  }
}
