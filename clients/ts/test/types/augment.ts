// Compile-time check (run by `npm run typecheck:package`): an application adds
// its own operations to `Methods` by declaration merging against the BUILT
// package, and `client.call` is then typed by them. Never executed.
import { createClient, type Client } from '@goonline/client'
import { useCall } from '@goonline/client/react'

interface Order {
  id: string
  total: number
}

declare module '@goonline/client' {
  interface Methods {
    'orders.create': { params: { business_id: string; lines: { sku: string; qty: number }[] }; result: Order }
  }
}

export async function typed(client: Client): Promise<number> {
  const order = await client.call('orders.create', { business_id: 'b1', lines: [{ sku: 'a', qty: 1 }] }, { idempotencyKey: 'k' })
  const me = await client.call('me.get')
  // @ts-expect-error: params are checked against the declared shape.
  await client.call('orders.create', { business_id: 1 })
  // @ts-expect-error: an unknown method is refused (callUntyped takes any name).
  await client.call('orders.nope', {})
  return order.total + me.display_name.length
}

export function hook(): void {
  const create = useCall('orders.create')
  void create.call({ business_id: 'b1', lines: [] })
}

export const client = createClient({ url: 'wss://example.invalid', autoConnect: false })
