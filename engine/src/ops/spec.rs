//! What an operation declares: its name, the permission it needs, whether it
//! changes state, and where REST serves it besides `POST /api/ops/{name}`.

use crate::tenancy::Role;

/// Who may call an operation. Checked by the registry before the handler runs,
/// identically for REST and socket callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Anyone, signed in or not (`auth.login`, `auth.register`).
    Public,
    /// Any signed-in user.
    User,
    /// Platform admins only.
    PlatformAdmin,
    /// Members of the business named by the `business_id` parameter whose role is
    /// at least this one. Non-members get `not_found` (a business's existence is
    /// not revealed); members below the role get `forbidden`.
    Member(Role),
}

impl Permission {
    /// A short description for the OpenAPI document.
    pub fn describe(&self) -> String {
        match self {
            Permission::Public => "public".into(),
            Permission::User => "signed-in user".into(),
            Permission::PlatformAdmin => "platform admin".into(),
            Permission::Member(role) => format!("business member with role {role} or above"),
        }
    }
}

/// HTTP methods a resource route may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// Read.
    Get,
    /// Create, or an action.
    Post,
    /// Partial update.
    Patch,
    /// Delete.
    Delete,
}

impl HttpMethod {
    /// Lower-case name, as OpenAPI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
        }
    }
}

/// A resource-style REST route for an operation, e.g. `GET /businesses/{business_id}`
/// (relative to `/api`). Path segments in braces fill the parameter of that name;
/// on `GET` and `DELETE` the query string fills the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestRoute {
    /// The method.
    pub method: HttpMethod,
    /// The path under `/api`, with `{param}` segments.
    pub path: &'static str,
}

/// The declaration of one operation.
#[derive(Debug, Clone, Copy)]
pub struct OpSpec {
    /// Dotted method name, e.g. `business.create`.
    pub name: &'static str,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// Who may call it.
    pub permission: Permission,
    /// Whether it only reads. Calls that change state accept an idempotency key.
    pub read_only: bool,
    /// Whether repeating it with the same params has the same effect as doing it
    /// once (reads, "set" operations), so clients may retry it without a key.
    pub idempotent: bool,
    /// Whether calls may carry an idempotency key (state-changing calls whose
    /// outcome may be stored; not those that return credentials).
    pub idempotency_keys: bool,
    /// The resource route, when the resource is obvious.
    pub rest: Option<RestRoute>,
}

impl OpSpec {
    /// A read-only operation (always idempotent).
    pub const fn read(name: &'static str, summary: &'static str, permission: Permission) -> OpSpec {
        OpSpec {
            name,
            summary,
            permission,
            read_only: true,
            idempotent: true,
            idempotency_keys: false,
            rest: None,
        }
    }

    /// An operation that changes state; `idempotent` says whether a plain retry is
    /// safe.
    pub const fn write(
        name: &'static str,
        summary: &'static str,
        permission: Permission,
        idempotent: bool,
    ) -> OpSpec {
        OpSpec {
            name,
            summary,
            permission,
            read_only: false,
            idempotent,
            idempotency_keys: true,
            rest: None,
        }
    }

    /// The result holds credentials (tokens): an idempotency key is ignored, so
    /// no outcome is ever stored for a replay.
    pub const fn returns_secrets(mut self) -> OpSpec {
        self.idempotency_keys = false;
        self
    }

    /// Also serves the operation at `method path` (relative to `/api`).
    pub const fn at(mut self, method: HttpMethod, path: &'static str) -> OpSpec {
        self.rest = Some(RestRoute { method, path });
        self
    }
}
