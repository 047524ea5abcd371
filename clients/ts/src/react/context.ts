//! The client handed down the React tree: `<GoOnlineProvider client={client}>`
//! and `useClient()`. The provider never creates or closes the client — the app
//! owns its lifetime (create it once, outside render, so StrictMode's double
//! render cannot make two sockets).

import { createContext, createElement, useContext, type ReactElement, type ReactNode } from 'react'
import type { Client } from '../client.js'

const ClientContext = createContext<Client | null>(null)
ClientContext.displayName = 'GoOnlineClient'

export interface GoOnlineProviderProps {
  /** The client every hook below uses (from `createClient`, made once outside render). */
  client: Client
  children?: ReactNode
}

/** Makes `client` available to the hooks of `@goonline/client/react`. */
export function GoOnlineProvider({ client, children }: GoOnlineProviderProps): ReactElement {
  // `createElement` rather than JSX: this file stays plain `.ts`.
  return createElement(ClientContext.Provider, { value: client }, children)
}

/** The client of the nearest `<GoOnlineProvider>`; throws outside one. */
export function useClient(): Client {
  const client = useContext(ClientContext)
  if (!client) {
    throw new Error('useClient() (and every GoOnline hook) must be used inside <GoOnlineProvider client={client}>')
  }
  return client
}
