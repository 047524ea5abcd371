//! Who is calling an operation, as the transport established it.

use std::net::IpAddr;

/// An authenticated user, from a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// The user's id.
    pub id: String,
    /// Whether the user is a platform admin.
    pub platform_admin: bool,
    /// The sign-in session (refresh-token family) the token belongs to.
    pub session: String,
}

/// Which door a call came through (for audit and rate limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `POST /api/ops/{method}` or a resource route.
    Rest,
    /// A native `call` frame.
    Socket,
    /// The command line or the server itself.
    Internal,
}

/// The caller of an operation.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The signed-in user, if any.
    pub user: Option<UserRef>,
    /// The client's address, when known.
    pub ip: Option<IpAddr>,
    /// The door the call came through.
    pub via: Transport,
}

impl Caller {
    /// An anonymous caller from `ip`.
    pub fn anonymous(ip: Option<IpAddr>, via: Transport) -> Caller {
        Caller {
            user: None,
            ip,
            via,
        }
    }

    /// The user's id, if signed in.
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.id.as_str())
    }
}
