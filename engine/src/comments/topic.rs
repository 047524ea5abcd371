//! The comments topic of a document, and who may follow it.
//!
//! A document's comments go to one topic: the document's name with `comments`
//! inserted after its owner (`biz/b1/ws/main/plan` has
//! `biz/b1/comments/ws/main/plan`; `user/u1/notes` has `user/u1/comments/notes`).
//! The mapping is one-to-one, so the topic alone names its document, and
//! following the topic is allowed to exactly those who may open the document
//! (any grant: viewers read comments too).

use std::sync::Arc;

use super::KIND;
use crate::access::{AccessPolicy, Namespace, Principal, Refusal, namespace_of};
use crate::ops::BoxFuture;
use crate::topics::{Owner, TopicAccess, TopicName, TopicRefusal};

/// The comments topic of `doc`, or `None` when the document cannot have
/// comments (outside `biz/{id}/` and `user/{id}/`, or a name that makes no
/// valid topic name: too long, empty segments, control characters).
pub fn comment_topic(doc: &str) -> Option<String> {
    let (prefix, owner) = match namespace_of(doc) {
        Namespace::Business(b) => ("biz", b),
        Namespace::User(u) => ("user", u),
        Namespace::Malformed | Namespace::Other => return None,
    };
    let rest = &doc[prefix.len() + 1 + owner.len() + 1..];
    let topic = format!("{prefix}/{owner}/{KIND}/{rest}");
    TopicName::parse(&topic).ok()?;
    Some(topic)
}

/// The document whose comments `topic` carries: the inverse of
/// [`comment_topic`]. `None` for a topic that is not a comments topic.
pub fn doc_of_comment_topic(topic: &str) -> Option<String> {
    let name = TopicName::parse(topic).ok()?;
    if name.kind != KIND || name.rest.is_empty() {
        return None;
    }
    let doc = match name.owner {
        Owner::Business(b) => format!("biz/{b}/{}", name.rest),
        Owner::User(u) => format!("user/{u}/{}", name.rest),
        Owner::Platform => return None,
    };
    (comment_topic(&doc).as_deref() == Some(topic)).then_some(doc)
}

/// The topic refusal for a document refusal.
pub(crate) fn topic_refusal(r: Refusal) -> TopicRefusal {
    match r {
        Refusal::Unauthorized(m) => TopicRefusal::Unauthorized(m),
        Refusal::Forbidden(m) => TopicRefusal::Forbidden(m),
        Refusal::Unavailable(m) => TopicRefusal::Unavailable(m),
    }
}

/// Access to `comments` topics: whoever may open the document (read-only or
/// read-write) may follow its comments.
pub struct CommentsAccess {
    docs: Arc<dyn AccessPolicy>,
}

impl CommentsAccess {
    /// Asks `docs` about the document behind each topic.
    pub fn new(docs: Arc<dyn AccessPolicy>) -> CommentsAccess {
        CommentsAccess { docs }
    }
}

impl TopicAccess for CommentsAccess {
    fn check<'a>(
        &'a self,
        who: &'a Principal,
        topic: TopicName<'a>,
    ) -> BoxFuture<'a, Result<(), TopicRefusal>> {
        Box::pin(async move {
            let Some(doc) = doc_of_comment_topic(topic.full) else {
                return Err(TopicRefusal::NotFound(format!(
                    "`{}` is not a document's comments topic: use biz/{{id}}/comments/{{name}} \
                     or user/{{id}}/comments/{{name}}",
                    topic.full
                )));
            };
            self.docs
                .grant(who, &doc)
                .await
                .map(|_| ())
                .map_err(topic_refusal)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_map_to_their_comments_topic_and_back() {
        for (doc, topic) in [
            ("biz/b1/inventory", "biz/b1/comments/inventory"),
            ("biz/b1/ws/main/plan", "biz/b1/comments/ws/main/plan"),
            ("user/u1/notes", "user/u1/comments/notes"),
            ("biz/b1/comments/x", "biz/b1/comments/comments/x"),
        ] {
            assert_eq!(comment_topic(doc).as_deref(), Some(topic), "{doc}");
            assert_eq!(doc_of_comment_topic(topic).as_deref(), Some(doc), "{topic}");
        }
    }

    #[test]
    fn names_outside_the_namespaces_have_no_comments() {
        for doc in [
            "shop/inventory",
            "biz/b1",
            "biz//x",
            "user/u1",
            "biz/b1/a//b",
            "biz/b1/a\u{0}b",
        ] {
            assert_eq!(comment_topic(doc), None, "{doc:?}");
        }
        assert_eq!(comment_topic(&format!("biz/b1/{}", "x".repeat(600))), None);
        for topic in [
            "biz/b1/chat/general",
            "biz/b1/comments",
            "platform/comments/x",
            "user/u1/inbox",
        ] {
            assert_eq!(doc_of_comment_topic(topic), None, "{topic}");
        }
    }
}
