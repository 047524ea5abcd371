//! `@goonline/client/react`: hooks over a `Client` — safe under StrictMode's
//! double mount and remounts (documents and topics are acquired in effects
//! and shared by the SDK's refcount and linger), never opening a socket.
//!
//! This entry is bundled apart from the core: it imports the core's types only,
//! so the app's one copy of `@goonline/client` is the one the hooks drive.

export { GoOnlineProvider, useClient, type GoOnlineProviderProps } from './context.js'
export { useStatus, useUser } from './status.js'
export { useDoc, useSyncStatus, type UseDocResult } from './doc.js'
export {
  usePresence,
  useOthers,
  type AwarenessSource,
  type Other,
  type PresenceState,
  type PresenceUpdate,
} from './awareness.js'
export { useCall, type UseCallResult, type CallOutcome } from './call.js'
export { useTopic, type UseTopicOptions, type UseTopicResult } from './topic.js'
export { useStore } from './store.js'
export { useChannel, type ChatRef, type UseChannelResult } from './channel.js'
