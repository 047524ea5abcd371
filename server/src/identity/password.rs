//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes, one
//! lane, a random 16-byte salt), stored as PHC strings.
//!
//! Hashing is deliberately slow, so it runs on the blocking pool, never on the
//! async workers. A sign-in for an unknown email (or an account without a
//! password) still verifies against a dummy hash, so the answer takes as long
//! as for a wrong password and does not reveal which emails have accounts.
//! At most a few hashes run at once (twice the cores): each takes 19 MiB and a
//! core for tens of milliseconds, so a burst of sign-ins queues here instead of
//! filling the blocking pool (512 threads: ~10 GB) and starving everything else.
//! Passwords are never logged: they travel as [`Password`], whose `Debug` hides
//! them, and as plain bytes only inside the blocking closures.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use goonline_engine::ops::OpError;
use goonline_engine::ops::params::Password;
use tokio::sync::{OnceCell, Semaphore};

/// Hashes and verifies passwords; holds the dummy hash. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    dummy: Arc<OnceCell<String>>,
    /// Bounds the hashes running at once.
    slots: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Passwords {
            dummy: Arc::default(),
            slots: Arc::new(Semaphore::new(cores * 2)),
        }
    }
}

impl Passwords {
    /// A hasher whose dummy hash is computed in the background now, so the first
    /// sign-in for an unknown email does not pay for it (and so take longer than
    /// a wrong password would).
    pub fn new() -> Passwords {
        let p = Passwords::default();
        let warm = p.clone();
        tokio::spawn(async move {
            let _ = warm.dummy().await;
        });
        p
    }

    /// The argon2id PHC string for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, OpError> {
        let _slot = self.slot().await?;
        hash_blocking(password.expose().to_owned()).await
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, OpError> {
        self.slots
            .acquire()
            .await
            .map_err(|_| OpError::Internal("password hashing stopped".into()))
    }

    /// Whether `password` matches `stored`. With no stored hash it still spends
    /// the time of a verification (against the dummy) and answers `false`.
    pub async fn verify(&self, password: &Password, stored: Option<String>) -> bool {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => match self.dummy().await {
                Ok(d) => (d.to_owned(), false),
                Err(_) => return false,
            },
        };
        let password = password.expose().to_owned();
        let Ok(_slot) = self.slot().await else {
            return false;
        };
        let matched = tokio::task::spawn_blocking(move || {
            match Argon2::default().verify_password(password.as_bytes(), hash.as_str()) {
                Ok(()) => true,
                Err(argon2::password_hash::Error::PasswordInvalid) => false,
                Err(e) => {
                    // A stored hash we cannot read: refuse, and say so in the logs
                    // (without the hash or the password).
                    tracing::error!(error = %e, "unreadable password hash");
                    false
                }
            }
        })
        .await
        .unwrap_or(false);
        matched && real
    }

    async fn dummy(&self) -> Result<&str, OpError> {
        self.dummy
            .get_or_try_init(|| {
                let mut noise = [0u8; 24];
                rand::fill(&mut noise);
                hash_blocking(crate::identity::tokens::base64url(&noise))
            })
            .await
            .map(String::as_str)
    }
}

async fn hash_blocking(password: String) -> Result<String, OpError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "password hashing failed");
                OpError::Internal("password hashing failed".into())
            })
    })
    .await
    .map_err(|_| OpError::Internal("password hashing failed".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let p = Passwords::new();
        let pw = Password::parse("correct horse".into()).expect("valid");
        let other = Password::parse("wrong horse".into()).expect("valid");
        let hash = p.hash(&pw).await.expect("hashed");
        assert!(hash.starts_with("$argon2id$"), "argon2id PHC string");
        assert!(p.verify(&pw, Some(hash.clone())).await);
        assert!(!p.verify(&other, Some(hash)).await);
        assert!(!p.verify(&pw, None).await, "no hash: never a match");
        assert!(!p.verify(&pw, Some("garbage".into())).await);
    }
}
