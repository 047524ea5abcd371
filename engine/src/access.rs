//! Access checks: may this session open or write this document?
//!
//! The engine consults an [`AccessPolicy`] on every open and every write. This
//! release ships [`AllowAll`]; the identity work replaces it with role-based rules.

/// Who is acting: what the engine knows about a session when it asks the policy.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The session's id.
    pub session_id: String,
    /// The token the client presented, if any (unchecked until identity lands).
    pub token: Option<String>,
}

/// What a session wants to do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocAccess {
    /// Open the document and receive its content and awareness.
    Read,
    /// Change the document (sync step 2 or update) or publish awareness.
    Write,
}

/// Decides whether a principal may act on a document. Must be cheap: it runs on
/// every write.
pub trait AccessPolicy: Send + Sync + 'static {
    /// `Ok(())` to allow, `Err(reason)` to refuse.
    fn check(&self, who: &Principal, doc: &str, access: DocAccess) -> Result<(), String>;
}

/// Allows everything. The default until identity and roles land.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl AccessPolicy for AllowAll {
    fn check(&self, _who: &Principal, _doc: &str, _access: DocAccess) -> Result<(), String> {
        Ok(())
    }
}
