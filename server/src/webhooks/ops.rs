//! The registration of the `webhook.*` operations (handlers in
//! `endpoints.rs` and `log.rs`). All need the admin role or above in the
//! business: endpoints receive the business's events and hold its secrets.
//!
//! | operation | route |
//! | --- | --- |
//! | `webhook.create` | `POST /businesses/{business_id}/webhooks` |
//! | `webhook.list` | `GET /businesses/{business_id}/webhooks` |
//! | `webhook.update` | `PATCH /businesses/{business_id}/webhooks/{endpoint_id}` |
//! | `webhook.delete` | `DELETE /businesses/{business_id}/webhooks/{endpoint_id}` |
//! | `webhook.rotate_secret` | `POST /businesses/{business_id}/webhooks/{endpoint_id}/rotate-secret` |
//! | `webhook.test` | `POST /businesses/{business_id}/webhooks/{endpoint_id}/test` |
//! | `webhook.deliveries` | `GET /businesses/{business_id}/webhooks/{endpoint_id}/deliveries` |
//! | `webhook.redeliver` | `POST /businesses/{business_id}/webhook-deliveries/{delivery_id}/redeliver` |

use goonline_engine::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};
use goonline_engine::tenancy::Role;

use super::Webhooks;
use super::params::{
    BusinessRef, Create, DeliveryRef, EndpointRef, ListDeliveries, Rotate, Update,
};

const ADMIN: Permission = Permission::Member(Role::Admin);

impl Webhooks {
    /// Registers the `webhook.*` operations.
    pub(super) fn register_ops(&self, ops: &mut OpsBuilder) {
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.create",
                "Add a webhook endpoint receiving the business's events; returns its signing secret",
                ADMIN,
                false,
            )
            .returns_secrets()
            .at(HttpMethod::Post, "/businesses/{business_id}/webhooks"),
            move |ctx, p: Create| {
                let h = h.clone();
                async move { h.create(&ctx, p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::read(
                "webhook.list",
                "The business's webhook endpoints, oldest first (without their secrets)",
                ADMIN,
            )
            .at(HttpMethod::Get, "/businesses/{business_id}/webhooks"),
            move |_ctx, p: BusinessRef| {
                let h = h.clone();
                async move { h.list(p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.update",
                "Change a webhook endpoint's URL, events or note, or turn it off and on",
                ADMIN,
                true,
            )
            .at(
                HttpMethod::Patch,
                "/businesses/{business_id}/webhooks/{endpoint_id}",
            ),
            move |ctx, p: Update| {
                let h = h.clone();
                async move { h.update(&ctx, p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.delete",
                "Delete a webhook endpoint and its delivery log (pending deliveries are dropped)",
                ADMIN,
                true,
            )
            .at(
                HttpMethod::Delete,
                "/businesses/{business_id}/webhooks/{endpoint_id}",
            ),
            move |ctx, p: EndpointRef| {
                let h = h.clone();
                async move { h.delete(&ctx, p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.rotate_secret",
                "Give a webhook endpoint a new signing secret (the previous one may keep signing for a while)",
                ADMIN,
                false,
            )
            .returns_secrets()
            .at(
                HttpMethod::Post,
                "/businesses/{business_id}/webhooks/{endpoint_id}/rotate-secret",
            ),
            move |ctx, p: Rotate| {
                let h = h.clone();
                async move { h.rotate(&ctx, p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.test",
                "Send a `webhook.test` event to one endpoint now (one attempt, logged)",
                ADMIN,
                false,
            )
            .at(
                HttpMethod::Post,
                "/businesses/{business_id}/webhooks/{endpoint_id}/test",
            ),
            move |ctx, p: EndpointRef| {
                let h = h.clone();
                async move { h.test(&ctx, p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::read(
                "webhook.deliveries",
                "A webhook endpoint's delivery log, newest first, with every attempt",
                ADMIN,
            )
            .at(
                HttpMethod::Get,
                "/businesses/{business_id}/webhooks/{endpoint_id}/deliveries",
            ),
            move |_ctx, p: ListDeliveries| {
                let h = h.clone();
                async move { h.deliveries(p).await }
            },
        );
        let h = self.clone();
        ops.register(
            OpSpec::write(
                "webhook.redeliver",
                "Send a delivery again now, whatever its state (logged as a manual attempt)",
                ADMIN,
                false,
            )
            .at(
                HttpMethod::Post,
                "/businesses/{business_id}/webhook-deliveries/{delivery_id}/redeliver",
            ),
            move |_ctx, p: DeliveryRef| {
                let h = h.clone();
                async move { h.redeliver(p).await }
            },
        );
    }
}
