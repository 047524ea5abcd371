//! Topic kinds: what a topic's kind (the segment after its owner) decides —
//! who may follow it, how long its events are kept, and whether it is a
//! latest-value topic whose slow subscribers get the newest value only.
//!
//! Features register their kinds (chat registers `chat` and `dm`, comments
//! `comments`); a `sub` to a kind nobody registered is `unknown_topic`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::name::{Owner, TopicName};
use crate::access::Principal;
use crate::ops::BoxFuture;
use crate::sql_store::SqlStore;
use crate::tenancy::store::role_in;

/// How long a topic kind keeps its events. Either bound (or both) may be set;
/// with neither, events are kept forever. A subscriber asking for events older
/// than what is kept gets a `gap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Events older than this are dropped.
    pub max_age: Option<Duration>,
    /// At most this many of the newest events are kept.
    pub max_events: Option<u64>,
}

impl Retention {
    /// Keep everything.
    pub const FOREVER: Retention = Retention {
        max_age: None,
        max_events: None,
    };

    /// Parses `30d`, `12h`, `90m`, `45s` (an age), `1000` (a count), or both
    /// joined by `,` (`1d,1000`).
    pub fn parse(s: &str) -> Result<Retention, String> {
        let mut r = Retention::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Ok(n) = part.parse::<u64>() {
                r.max_events = Some(n.max(1));
                continue;
            }
            // The unit is the last character (split on its boundary: `5é` is
            // an error, not a panic).
            let at = part.char_indices().last().map_or(0, |(i, _)| i);
            let (num, unit) = part.split_at(at);
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{part}` is neither a count nor an age like 30d"))?;
            let secs = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                "d" => n * 86_400,
                _ => return Err(format!("`{part}`: the unit is one of s, m, h, d")),
            };
            r.max_age = Some(Duration::from_secs(secs.max(1)));
        }
        Ok(r)
    }
}

/// Why a subscription (or a history read) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRefusal {
    /// Following it needs a signed-in user and there is none.
    Unauthorized(String),
    /// The user may not follow it.
    Forbidden(String),
    /// No such topic (e.g. a channel that was never created).
    NotFound(String),
    /// The check itself failed (store down); try again.
    Unavailable(String),
}

/// Decides who may follow topics of one kind.
pub trait TopicAccess: Send + Sync + 'static {
    /// `Ok` if `who` may follow `topic` (its kind is this access's).
    fn check<'a>(
        &'a self,
        who: &'a Principal,
        topic: TopicName<'a>,
    ) -> BoxFuture<'a, Result<(), TopicRefusal>>;
}

/// A topic kind.
#[derive(Clone)]
pub struct TopicKind {
    /// The kind's name (the segment after the owner).
    pub name: &'static str,
    /// How long its events are kept.
    pub retention: Retention,
    /// Latest-value: replay sends only the newest event, and a slow subscriber
    /// gets the newest value rather than a backlog (sequence numbers may skip).
    pub latest_value: bool,
    /// Who may follow it.
    pub access: Arc<dyn TopicAccess>,
}

/// The registered kinds, and retention overrides from the configuration.
#[derive(Clone, Default)]
pub struct TopicKinds {
    kinds: HashMap<&'static str, TopicKind>,
    overrides: HashMap<String, Retention>,
}

impl TopicKinds {
    /// No kinds yet.
    pub fn new() -> TopicKinds {
        TopicKinds::default()
    }

    /// Overrides the retention of `kind` (from `--topic-retention`), whenever
    /// it is registered.
    pub fn set_retention(&mut self, kind: &str, retention: Retention) {
        self.overrides.insert(kind.to_string(), retention);
        if let Some(k) = self.kinds.get_mut(kind) {
            k.retention = retention;
        }
    }

    /// Registers a kind (replacing one of the same name).
    pub fn register(&mut self, mut kind: TopicKind) {
        if let Some(r) = self.overrides.get(kind.name) {
            kind.retention = *r;
        }
        self.kinds.insert(kind.name, kind);
    }

    /// Kinds given a retention override that no feature registered (a typo in
    /// the configuration), sorted.
    pub fn unknown_overrides(&self) -> Vec<String> {
        let mut unknown: Vec<String> = self
            .overrides
            .keys()
            .filter(|k| !self.kinds.contains_key(k.as_str()))
            .cloned()
            .collect();
        unknown.sort();
        unknown
    }

    /// The kind named `name`.
    pub fn get(&self, name: &str) -> Option<&TopicKind> {
        self.kinds.get(name)
    }

    /// Every kind.
    pub fn iter(&self) -> impl Iterator<Item = &TopicKind> {
        self.kinds.values()
    }
}

/// Access by owner alone: business topics to its members (any role), user
/// topics to that user, platform topics to platform admins. For kinds whose
/// every topic name is valid (metrics).
pub struct OwnerAccess {
    db: SqlStore,
}

impl OwnerAccess {
    /// Reads memberships from `db`.
    pub fn new(db: SqlStore) -> Arc<OwnerAccess> {
        Arc::new(OwnerAccess { db })
    }
}

impl TopicAccess for OwnerAccess {
    fn check<'a>(
        &'a self,
        who: &'a Principal,
        topic: TopicName<'a>,
    ) -> BoxFuture<'a, Result<(), TopicRefusal>> {
        Box::pin(async move { owner_check(&self.db, who, topic).await })
    }
}

/// The owner rule of [`OwnerAccess`], for kinds that add checks of their own.
pub async fn owner_check(
    db: &SqlStore,
    who: &Principal,
    topic: TopicName<'_>,
) -> Result<(), TopicRefusal> {
    let Some(user) = &who.user else {
        return Err(TopicRefusal::Unauthorized(format!(
            "sign in to follow `{}`",
            topic.full
        )));
    };
    match topic.owner {
        Owner::User(id) if id == user.id => Ok(()),
        Owner::User(_) => Err(TopicRefusal::Forbidden(
            "topics under user/{id}/ belong to that user only".into(),
        )),
        Owner::Platform if user.platform_admin => Ok(()),
        Owner::Platform => Err(TopicRefusal::Forbidden(
            "platform topics are for platform admins".into(),
        )),
        Owner::Business(b) => match role_in(db, b, &user.id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(TopicRefusal::Forbidden(format!(
                "you are not a member of business `{b}`"
            ))),
            Err(e) => {
                tracing::warn!(error = %e, "role lookup failed");
                Err(TopicRefusal::Unavailable(
                    "access could not be checked; retry".into(),
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;
    impl TopicAccess for Nobody {
        fn check<'a>(
            &'a self,
            _: &'a Principal,
            _: TopicName<'a>,
        ) -> BoxFuture<'a, Result<(), TopicRefusal>> {
            Box::pin(async { Err(TopicRefusal::Forbidden("no".into())) })
        }
    }

    #[test]
    fn overrides_apply_whenever_a_kind_registers_and_typos_are_reported() {
        let mut kinds = TopicKinds::new();
        let week = Retention::parse("7d").expect("7d");
        kinds.set_retention("chat", week);
        kinds.set_retention("chta", week);
        kinds.register(TopicKind {
            name: "chat",
            retention: Retention::FOREVER,
            latest_value: false,
            access: Arc::new(Nobody),
        });
        assert_eq!(kinds.get("chat").map(|k| k.retention), Some(week));
        assert_eq!(kinds.unknown_overrides(), vec!["chta".to_string()]);
    }

    #[test]
    fn retention_reads_ages_counts_and_both() {
        assert_eq!(
            Retention::parse("30d").expect("age").max_age,
            Some(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            Retention::parse("1000").expect("count").max_events,
            Some(1000)
        );
        let both = Retention::parse("12h,500").expect("both");
        assert_eq!(both.max_age, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(both.max_events, Some(500));
        assert!(Retention::parse("5y").is_err());
        assert!(Retention::parse("5é").is_err());
        assert!(Retention::parse("xd").is_err());
    }
}
