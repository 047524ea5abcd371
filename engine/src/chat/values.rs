//! Values that check themselves while they are read: channel names (slugs),
//! client message ids, message bodies (kept exactly as given: never trimmed,
//! never interpreted) and reactions.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::ops::params::Text;

/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest client message id, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// Longest channel name, in characters.
pub const MAX_CHANNEL_NAME: usize = 64;

/// `s` has `min..=max` characters and no control characters other than the
/// line breaks and tabs `multiline` allows; it is not only whitespace.
fn check_verbatim(s: &str, min: usize, max: usize, multiline: bool) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("must be {min} to {max} characters, got {n}"));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if s.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(if multiline {
            "must not contain control characters other than line breaks and tabs".into()
        } else {
            "must not contain control characters".into()
        });
    }
    if s.trim().is_empty() {
        return Err("must not be blank".into());
    }
    Ok(())
}

/// A message body: 1 to 4000 characters, not blank, line breaks and tabs
/// allowed, stored and returned exactly as given (no trimming; no markup is
/// interpreted: clients render it as text).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MessageBody(String);

impl MessageBody {
    /// The body.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for MessageBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        check_verbatim(&s, 1, MAX_BODY_CHARS, true).map_err(serde::de::Error::custom)?;
        Ok(MessageBody(s))
    }
}

impl JsonSchema for MessageBody {
    fn schema_name() -> Cow<'static, str> {
        "MessageBody".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS })
    }
}

/// The client's id for a message it sends (1 to 64 characters, kept as
/// given): a resend with the same id is the same message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientId(String);

impl ClientId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        check_verbatim(&s, 1, MAX_CLIENT_ID_CHARS, false).map_err(serde::de::Error::custom)?;
        Ok(ClientId(s))
    }
}

impl JsonSchema for ClientId {
    fn schema_name() -> Cow<'static, str> {
        "ClientMessageId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_CLIENT_ID_CHARS })
    }
}

/// A channel name: a slug of 1 to 64 characters `[a-z0-9_-]` (it is the last
/// segment of the channel's topic, `biz/{business_id}/chat/{name}`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChannelName(String);

impl ChannelName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `s`.
    pub fn parse(s: &str) -> Result<ChannelName, String> {
        let ok = (1..=MAX_CHANNEL_NAME).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(ChannelName(s.to_string()))
        } else {
            Err(format!(
                "must be 1 to {MAX_CHANNEL_NAME} characters of a-z, 0-9, `-` and `_` (like `general`)"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ChannelName::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ChannelName {
    fn schema_name() -> Cow<'static, str> {
        "ChannelName".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[a-z0-9_-]{1,64}$" })
    }
}

/// A reaction: 1 to 32 characters (an emoji, or a short code like `:+1:`).
pub type Emoji = Text<1, 32>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_kept_verbatim_within_bounds() {
        assert!(check_verbatim("  <b>hi</b>\n\tok ", 1, 4000, true).is_ok());
        assert!(check_verbatim(&"é".repeat(4000), 1, 4000, true).is_ok());
        assert!(check_verbatim(&"é".repeat(4001), 1, 4000, true).is_err());
        assert!(check_verbatim("", 1, 4000, true).is_err());
        assert!(check_verbatim(" \n ", 1, 4000, true).is_err());
        assert!(check_verbatim("a\u{0}b", 1, 4000, true).is_err());
        assert!(check_verbatim("a\nb", 1, 64, false).is_err());
    }

    #[test]
    fn channel_names_are_slugs() {
        for ok in ["general", "a", "sales-2025", "x_y", &"a".repeat(64)] {
            assert!(ChannelName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "General", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(ChannelName::parse(bad).is_err(), "{bad}");
        }
    }
}
