//! Access checks: may this session open this document, and may it write it?
//!
//! The engine asks its [`AccessPolicy`] once when a session opens a document
//! (and again whenever the user's access changes); the answer, a [`Grant`], is
//! kept with the open document, so the check on every write is a field read.
//!
//! [`NamespacePolicy`] is the production policy. Documents are named by
//! namespace: `biz/{business_id}/...` belongs to a business (members open it;
//! viewers read only; others are refused), `user/{user_id}/...` to one user.
//! Workspace documents (`biz/{business_id}/ws/...`) are decided from their
//! `docs` row instead ([`crate::workspaces::standing::doc_grant`]): only
//! documents made with `doc.create` exist there, guests of the workspace open
//! them too, archived ones are read-only, deleted ones closed, and a name a
//! document moved away from is refused with its new name.
//! Other names are refused, unless the server was started with anonymous
//! documents allowed (a development and benchmarking switch), in which case
//! they are open to anyone, as before identity existed.

use crate::ops::{BoxFuture, UserRef};
use crate::sql_store::SqlStore;
use crate::tenancy::store::role_in;
use crate::workspaces::standing::doc_grant;

/// Who is acting: what the engine knows about a session.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The session's id.
    pub session_id: String,
    /// The signed-in user, once the transport has verified a token.
    pub user: Option<UserRef>,
}

/// What a session may do with a document it may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Receive and change it.
    ReadWrite,
    /// Receive it; every change is refused.
    ReadOnly,
}

/// Why a document may not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The document needs a signed-in user and there is none.
    Unauthorized(String),
    /// The user may not open it (or the namespace is unknown).
    Forbidden(String),
    /// The check itself failed (store down); try again.
    Unavailable(String),
}

/// Decides what a principal may do with a document.
pub trait AccessPolicy: Send + Sync + 'static {
    /// The grant for `who` on `doc`, or why there is none.
    fn grant<'a>(
        &'a self,
        who: &'a Principal,
        doc: &'a str,
    ) -> BoxFuture<'a, Result<Grant, Refusal>>;
}

/// Allows everything: for engine tests that are not about access.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn grant<'a>(&'a self, _: &'a Principal, _: &'a str) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(async { Ok(Grant::ReadWrite) })
    }
}

/// The namespace a document name falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace<'a> {
    /// `biz/{business_id}/...`
    Business(&'a str),
    /// `user/{user_id}/...`
    User(&'a str),
    /// Starts like `biz/` or `user/` but names no owner (`biz//x`, `user/u`).
    Malformed,
    /// Anything else.
    Other,
}

/// Splits a document name into its namespace. `biz/x` without a further
/// segment, or with an empty id, is not in the namespace.
pub fn namespace_of(doc: &str) -> Namespace<'_> {
    let owner = |prefix: &str| {
        let (id, tail) = doc.strip_prefix(prefix)?.split_once('/')?;
        (!id.is_empty() && !tail.is_empty()).then_some(id)
    };
    if let Some(id) = owner("biz/") {
        Namespace::Business(id)
    } else if let Some(id) = owner("user/") {
        Namespace::User(id)
    } else if doc.starts_with("biz/") || doc.starts_with("user/") {
        // Never an anonymous document that only looks like a business's.
        Namespace::Malformed
    } else {
        Namespace::Other
    }
}

/// Whether `doc` (in business `business`) is a workspace document name
/// (`biz/{business}/ws/...`), decided from the `docs` rows.
pub fn is_workspace_doc(doc: &str, business: &str) -> bool {
    doc.strip_prefix("biz/")
        .and_then(|rest| rest.strip_prefix(business))
        .is_some_and(|rest| rest.starts_with("/ws/"))
}

/// The production policy: business and user namespaces, roles from the store.
pub struct NamespacePolicy {
    db: SqlStore,
    allow_anonymous_docs: bool,
}

impl NamespacePolicy {
    /// Reads roles from `db`. With `allow_anonymous_docs`, documents outside the
    /// known namespaces are open to anyone.
    pub fn new(db: SqlStore, allow_anonymous_docs: bool) -> NamespacePolicy {
        NamespacePolicy {
            db,
            allow_anonymous_docs,
        }
    }
}

impl AccessPolicy for NamespacePolicy {
    fn grant<'a>(
        &'a self,
        who: &'a Principal,
        doc: &'a str,
    ) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(async move {
            let ns = namespace_of(doc);
            if ns == Namespace::Malformed {
                return Err(Refusal::Forbidden(
                    "malformed name: use biz/{business_id}/{name} or user/{user_id}/{name}".into(),
                ));
            }
            if ns == Namespace::Other {
                return if self.allow_anonymous_docs {
                    Ok(Grant::ReadWrite)
                } else {
                    Err(Refusal::Forbidden(
                        "unknown namespace: document names start with biz/{business_id}/ or user/{user_id}/"
                            .into(),
                    ))
                };
            }
            let Some(user) = &who.user else {
                return Err(Refusal::Unauthorized(format!(
                    "sign in to open `{doc}`: send an access token"
                )));
            };
            match ns {
                Namespace::User(owner) if owner == user.id => Ok(Grant::ReadWrite),
                Namespace::User(_) => Err(Refusal::Forbidden(
                    "documents under user/{id}/ belong to that user only".into(),
                )),
                Namespace::Business(business) if is_workspace_doc(doc, business) => {
                    // Guests are not members: this is the only business name
                    // they may open.
                    doc_grant(&self.db, doc, &user.id).await
                }
                Namespace::Business(business) => {
                    match role_in(&self.db, business, &user.id).await {
                        Ok(Some(role)) if role.can_edit_docs() => Ok(Grant::ReadWrite),
                        Ok(Some(_)) => Ok(Grant::ReadOnly),
                        Ok(None) => Err(Refusal::Forbidden(format!(
                            "you are not a member of business `{business}`"
                        ))),
                        Err(e) => {
                            tracing::warn!(error = %e, "role lookup failed");
                            Err(Refusal::Unavailable(
                                "access could not be checked; retry".into(),
                            ))
                        }
                    }
                }
                Namespace::Other | Namespace::Malformed => {
                    Err(Refusal::Forbidden("unknown namespace".into()))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_in_their_namespace_and_lookalikes_are_malformed() {
        assert_eq!(namespace_of("biz/b1/inventory"), Namespace::Business("b1"));
        assert_eq!(
            namespace_of("biz/b1/ws/main/plan"),
            Namespace::Business("b1")
        );
        assert_eq!(namespace_of("user/u1/notes"), Namespace::User("u1"));
        assert_eq!(namespace_of("shop/inventory"), Namespace::Other);
        assert_eq!(namespace_of("bizarre/x"), Namespace::Other);
        // Never an anonymous document that only looks like a business's.
        for name in [
            "biz//x",
            "biz/b1",
            "biz/b1/",
            "user/u1",
            "user//notes",
            "biz/",
        ] {
            assert_eq!(namespace_of(name), Namespace::Malformed, "{name}");
        }
    }

    #[test]
    fn workspace_documents_are_names_under_ws_of_their_business() {
        assert!(is_workspace_doc("biz/b1/ws/w1/d1", "b1"));
        assert!(is_workspace_doc("biz/b1/ws/w1", "b1"));
        assert!(!is_workspace_doc("biz/b1/inventory", "b1"));
        assert!(!is_workspace_doc("biz/b1/wsx/w1/d1", "b1"));
        assert!(!is_workspace_doc("biz/b12/ws/w1/d1", "b1"));
    }
}
