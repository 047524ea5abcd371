//! Topic names: namespaced like documents, with the topic's *kind* right after
//! the owner, so the name alone says who may follow it and how long it is kept.
//!
//! - `biz/{business_id}/{kind}/...`: a business's topic (`biz/b1/chat/general`,
//!   `biz/b1/metrics/sales`, `biz/b1/comments/inventory`).
//! - `user/{user_id}/{kind}/...`: one user's own topic.
//! - `platform/{kind}`: the platform's (operational metrics for admins).
//!
//! Every segment is non-empty; names are 1..=512 bytes with no control characters.

use std::fmt;

/// Longest topic name accepted, in bytes.
pub const MAX_TOPIC_NAME_BYTES: usize = 512;

/// Who a topic belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A business: members follow it.
    Business(&'a str),
    /// A user: only they follow it.
    User(&'a str),
    /// The platform: platform admins follow it.
    Platform,
}

/// A parsed topic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicName<'a> {
    /// The whole name.
    pub full: &'a str,
    /// Its owner.
    pub owner: Owner<'a>,
    /// Its kind (`chat`, `dm`, `comments`, `metrics`, ...).
    pub kind: &'a str,
    /// What follows the kind (`general` in `biz/b1/chat/general`); empty for
    /// `platform/{kind}`.
    pub rest: &'a str,
}

/// Why a topic name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid topic name: {0}")]
pub struct BadTopicName(pub String);

impl<'a> TopicName<'a> {
    /// Parses `name`.
    pub fn parse(name: &'a str) -> Result<TopicName<'a>, BadTopicName> {
        if name.is_empty()
            || name.len() > MAX_TOPIC_NAME_BYTES
            || name.chars().any(char::is_control)
        {
            return Err(BadTopicName(format!(
                "topic names are 1 to {MAX_TOPIC_NAME_BYTES} bytes with no control characters"
            )));
        }
        if name.split('/').any(str::is_empty) {
            return Err(BadTopicName(format!("`{name}` has an empty segment")));
        }
        let shape = || {
            BadTopicName(format!(
                "`{name}` is not biz/{{business_id}}/{{kind}}/..., user/{{user_id}}/{{kind}}/... or platform/{{kind}}"
            ))
        };
        let mut parts = name.splitn(4, '/');
        let first = parts.next().ok_or_else(shape)?;
        match first {
            "platform" => {
                let kind = parts.next().ok_or_else(shape)?;
                let rest = match (parts.next(), parts.next()) {
                    (None, _) => "",
                    (Some(a), None) => a,
                    (Some(_), Some(_)) => &name["platform/".len() + kind.len() + 1..],
                };
                Ok(TopicName {
                    full: name,
                    owner: Owner::Platform,
                    kind,
                    rest,
                })
            }
            "biz" | "user" => {
                let id = parts.next().ok_or_else(shape)?;
                let kind = parts.next().ok_or_else(shape)?;
                let rest = parts.next().unwrap_or("");
                let owner = if first == "biz" {
                    Owner::Business(id)
                } else {
                    Owner::User(id)
                };
                Ok(TopicName {
                    full: name,
                    owner,
                    kind,
                    rest,
                })
            }
            _ => Err(shape()),
        }
    }

    /// The business it belongs to, if any.
    pub fn business(&self) -> Option<&'a str> {
        match self.owner {
            Owner::Business(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Display for TopicName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_owner_kind_and_rest() {
        let t = TopicName::parse("biz/b1/chat/general").expect("biz");
        assert_eq!(t.owner, Owner::Business("b1"));
        assert_eq!((t.kind, t.rest), ("chat", "general"));
        let t = TopicName::parse("biz/b1/comments/ws/main/plan").expect("nested");
        assert_eq!((t.kind, t.rest), ("comments", "ws/main/plan"));
        let t = TopicName::parse("user/u1/inbox").expect("user");
        assert_eq!(t.owner, Owner::User("u1"));
        assert_eq!((t.kind, t.rest), ("inbox", ""));
        let t = TopicName::parse("platform/metrics").expect("platform");
        assert_eq!(t.owner, Owner::Platform);
        assert_eq!((t.kind, t.rest), ("metrics", ""));
        let t = TopicName::parse("platform/metrics/nodes/a").expect("platform rest");
        assert_eq!((t.kind, t.rest), ("metrics", "nodes/a"));
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        for bad in [
            "",
            "chat/general",
            "biz/b1",
            "biz//chat/x",
            "biz/b1/chat/",
            "user/u1",
            "platform",
            "biz/b1/chat/a\u{0}b",
        ] {
            assert!(TopicName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TopicName::parse(&"x".repeat(600)).is_err());
    }
}
