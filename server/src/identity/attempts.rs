//! Limits on sign-in and registration attempts: per account (the normalized
//! email, or the user for a password change) and per client IP, each a token
//! bucket of the configured size refilled over ten minutes. A successful sign-in
//! forgets the account's bucket, so a user who mistyped a few times is not held
//! back afterwards; the IP bucket keeps counting.

use std::net::IpAddr;
use std::time::Duration;

use goonline_engine::ops::OpError;

use crate::config::SecurityArgs;
use crate::limits::RateLimiter;

/// The window the configured counts apply to.
pub const WINDOW: Duration = Duration::from_secs(600);

/// The two limiters.
pub struct Attempts {
    per_account: RateLimiter,
    per_ip: RateLimiter,
}

impl Attempts {
    /// Limiters with the configured counts.
    pub fn new(cfg: &SecurityArgs) -> Attempts {
        Attempts {
            per_account: RateLimiter::new(cfg.login_attempts_per_account, WINDOW),
            per_ip: RateLimiter::new(cfg.login_attempts_per_ip, WINDOW),
        }
    }

    /// Takes an attempt for `account` from `ip`, or says when to retry. The IP
    /// is checked first, so one address hammering many accounts does not use up
    /// those accounts' budgets.
    pub fn take(&self, account: &str, ip: Option<IpAddr>) -> Result<(), OpError> {
        if let Some(ip) = ip {
            self.per_ip
                .check(&ip.to_string())
                .map_err(|retry_after| OpError::RateLimited {
                    retry_after,
                    message: format!(
                        "too many sign-in attempts from this address; retry in {retry_after} s"
                    ),
                })?;
        }
        self.per_account
            .check(account)
            .map_err(|retry_after| OpError::RateLimited {
                retry_after,
                message: format!(
                    "too many sign-in attempts for this account; retry in {retry_after} s"
                ),
            })
    }

    /// `account` signed in: forget its failed attempts.
    pub fn succeeded(&self, account: &str) {
        self.per_account.reset(account);
    }
}

/// The account key of an email (already normalized by `params::Email`).
pub fn email_key(email: &str) -> String {
    format!("email:{email}")
}

/// The account key of a signed-in user (password changes).
pub fn user_key(user: &str) -> String {
    format!("user:{user}")
}
