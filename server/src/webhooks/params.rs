//! The params and results of the `webhook.*` operations.
//!
//! The URL and the event list are read as plain values and checked by the
//! handlers (`invalid_argument` naming `url` or `events`), so a malformed one
//! is judged after the params' shape, like every other field.

use std::borrow::Cow;

use goonline_engine::ops::params::{Id, Text, lenient_u32};
pub use goonline_engine::tenancy::ops::BusinessRef;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::client::MAX_URL_CHARS;
use super::patterns::MAX_PATTERNS;

/// An endpoint URL as given (checked by the handler).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct UrlText(pub String);

impl JsonSchema for UrlText {
    fn schema_name() -> Cow<'static, str> {
        "WebhookUrl".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "uri", "minLength": 1, "maxLength": MAX_URL_CHARS })
    }
}

/// Event types and patterns as given (checked by the handler).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct EventList(pub Vec<String>);

impl JsonSchema for EventList {
    fn schema_name() -> Cow<'static, str> {
        "WebhookEvents".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "items": { "type": "string", "maxLength": 100 },
            "minItems": 1,
            "maxItems": MAX_PATTERNS
        })
    }
}

/// Params of `webhook.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Create {
    /// The business.
    pub business_id: Id,
    /// Where deliveries are POSTed: an absolute `http` or `https` URL without
    /// credentials, at most 2048 characters.
    pub url: UrlText,
    /// The event types it receives: exact types (`doc.created`), prefixes
    /// (`doc.*`) or `*` for every event; 1 to 50.
    pub events: EventList,
    /// A note for the people managing it (at most 200 characters).
    #[serde(default)]
    pub description: Option<Text<0, 200>>,
}

/// Params of `webhook.update`: what is given changes, the rest stays.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// The business.
    pub business_id: Id,
    /// The endpoint.
    pub endpoint_id: Id,
    /// A new URL.
    #[serde(default)]
    pub url: Option<UrlText>,
    /// A new list of event types and patterns (replaces the old one).
    #[serde(default)]
    pub events: Option<EventList>,
    /// A new note (empty: none).
    #[serde(default)]
    pub description: Option<Text<0, 200>>,
    /// Turns deliveries off (`false`) or on again (`true`). While off, no
    /// deliveries are made for new events and pending ones wait.
    #[serde(default)]
    pub active: Option<bool>,
}

/// Params naming an endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRef {
    /// The business.
    pub business_id: Id,
    /// The endpoint.
    pub endpoint_id: Id,
}

/// Params of `webhook.rotate_secret`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// The business.
    pub business_id: Id,
    /// The endpoint.
    pub endpoint_id: Id,
    /// Hours the previous secret keeps signing beside the new one (a second
    /// `v1` in the signature header), 0 to 72; default 24. 0 retires it now.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub keep_previous_hours: Option<u32>,
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: an attempt is due, in flight, or waiting to retry.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up after the last retry (or a one-off attempt failed).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// Params of `webhook.deliveries`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDeliveries {
    /// The business.
    pub business_id: Id,
    /// The endpoint.
    pub endpoint_id: Id,
    /// Only deliveries in this state.
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
    /// Most deliveries returned, 1 to 200; default 50.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
    /// Only deliveries older than this one (the previous page's `next_before`).
    #[serde(default)]
    pub before: Option<Id>,
}

/// Params naming a delivery.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRef {
    /// The business.
    pub business_id: Id,
    /// The delivery (from `webhook.deliveries`).
    pub delivery_id: Id,
}

/// An endpoint (its secret is shown only by `webhook.create` and
/// `webhook.rotate_secret`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Endpoint {
    /// Its id.
    pub id: String,
    /// Its business.
    pub business_id: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types and patterns it receives.
    pub events: Vec<String>,
    /// Its note.
    pub description: Option<String>,
    /// Whether deliveries are made.
    pub active: bool,
    /// Who created it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// When it last changed (epoch ms).
    pub updated_at: i64,
}

/// An endpoint with its signing secret.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The signing secret (`whsec_...`): the HMAC key of the
    /// `GoOnline-Signature` header. Keep it secret; `webhook.rotate_secret`
    /// replaces it.
    pub secret: String,
    /// After a rotation: until when the previous secret still signs too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<PreviousSecret>,
}

/// The previous secret during a rotation's overlap.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PreviousSecret {
    /// When it stops signing (epoch ms).
    pub expires_at: i64,
}

/// A business's endpoints.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EndpointList {
    /// Oldest first.
    pub endpoints: Vec<Endpoint>,
}

/// What `webhook.delete` did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Deleted {
    /// The endpoint, deleted with its delivery log.
    pub endpoint_id: String,
    /// Always true.
    pub deleted: bool,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Succeeded,
    /// Another answer, no answer in time, or no connection.
    Failed,
    /// Sent, the answer not in yet.
    InProgress,
    /// The sending server stopped before the outcome was recorded; the
    /// delivery was (or will be) tried again.
    Interrupted,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Attempt {
    /// 1 for the first.
    pub n: i64,
    /// Made by `webhook.redeliver`.
    pub manual: bool,
    /// When it started (epoch ms).
    pub at: i64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The endpoint's HTTP status, if it answered.
    pub status_code: Option<i64>,
    /// Why there was no answer (timeout, connection refused, ...).
    pub error: Option<String>,
    /// How long it took (ms).
    pub duration_ms: Option<i64>,
    /// The first characters of the answer's body.
    pub response_excerpt: Option<String>,
}

/// One event sent (or to be sent) to one endpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Delivery {
    /// Its id (for `webhook.redeliver`).
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event (`GoOnline-Event-Id`, the payload's `id`).
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempt_count: i64,
    /// While pending and not in flight: when the next attempt is due (epoch ms).
    pub next_attempt_at: Option<i64>,
    /// When it was made (epoch ms).
    pub created_at: i64,
    /// When it last changed (epoch ms).
    pub updated_at: i64,
    /// Every attempt, first first.
    pub attempts: Vec<Attempt>,
}

/// A page of an endpoint's delivery log, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeliveryLog {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
    /// Pass as `before` for the next page; `null` on the last one.
    pub next_before: Option<String>,
}

/// A delivery queued by `webhook.redeliver` or `webhook.test`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Queued {
    /// The delivery (follow it in `webhook.deliveries`).
    pub delivery_id: String,
    /// Its event.
    pub event_id: String,
    /// `pending`: an attempt is on its way.
    pub status: DeliveryStatus,
}
