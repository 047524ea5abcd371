//! Limits on sign-in and registration attempts: per account (the normalized
//! email, or the user for a password change) and per client IP, each a token
//! bucket of the configured size refilled over ten minutes. A successful sign-in
//! forgets the account's bucket, so a user who mistyped a few times is not held
//! back afterwards; the IP bucket keeps counting. In a cluster the buckets live
//! in Redis (shared by every node); when Redis does not answer, each node's own
//! buckets apply.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use goonline_engine::ops::OpError;

use crate::cluster::SharedBuckets;
use crate::config::SecurityArgs;
use crate::limits::RateLimiter;

/// The window the configured counts apply to.
pub const WINDOW: Duration = Duration::from_secs(600);

/// The two limiters.
pub struct Attempts {
    per_account: RateLimiter,
    per_ip: RateLimiter,
    account_burst: u32,
    ip_burst: u32,
    /// The cluster's buckets, once the server has attached them.
    shared: OnceLock<Arc<SharedBuckets>>,
}

impl Attempts {
    /// Limiters with the configured counts.
    pub fn new(cfg: &SecurityArgs) -> Attempts {
        Attempts {
            per_account: RateLimiter::new(cfg.login_attempts_per_account, WINDOW),
            per_ip: RateLimiter::new(cfg.login_attempts_per_ip, WINDOW),
            account_burst: cfg.login_attempts_per_account,
            ip_burst: cfg.login_attempts_per_ip,
            shared: OnceLock::new(),
        }
    }

    /// Counts in the cluster's buckets from now on (once).
    pub fn share(&self, buckets: Arc<SharedBuckets>) {
        let _ = self.shared.set(buckets);
    }

    /// Takes a token from bucket `key` (shared when possible); the seconds
    /// to wait when it is empty.
    async fn take_one(&self, local: &RateLimiter, burst: u32, key: &str) -> Result<(), u64> {
        if let Some(shared) = self.shared.get() {
            match shared.take(&format!("login:{key}"), burst, WINDOW).await {
                Ok(outcome) => return outcome,
                Err(e) => {
                    tracing::warn!(error = %e, "sign-in limits counted on this node only: Redis unreachable")
                }
            }
        }
        local.check(key)
    }

    /// Takes an attempt for `account` from `ip`, or says when to retry. The IP
    /// is checked first, so one address hammering many accounts does not use up
    /// those accounts' budgets.
    pub async fn take(&self, account: &str, ip: Option<IpAddr>) -> Result<(), OpError> {
        if let Some(ip) = ip {
            self.take_one(&self.per_ip, self.ip_burst, &format!("ip:{ip}"))
                .await
                .map_err(|retry_after| OpError::RateLimited {
                    retry_after,
                    message: format!(
                        "too many sign-in attempts from this address; retry in {retry_after} s"
                    ),
                })?;
        }
        self.take_one(&self.per_account, self.account_burst, account)
            .await
            .map_err(|retry_after| OpError::RateLimited {
                retry_after,
                message: format!(
                    "too many sign-in attempts for this account; retry in {retry_after} s"
                ),
            })
    }

    /// `account` signed in: forget its failed attempts.
    pub async fn succeeded(&self, account: &str) {
        self.per_account.reset(account);
        if let Some(shared) = self.shared.get() {
            shared.reset(&format!("login:{account}")).await;
        }
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
