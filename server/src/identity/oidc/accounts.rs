//! Which account a provider's user signs in to.
//!
//! 1. The account already linked to (issuer, subject), whatever the email says
//!    now (addresses change; subjects do not).
//! 2. Else the account with the same email, only if the provider verified the
//!    address: an unverified claim would let anyone who can type someone's
//!    address at a lax provider take over their account here.
//! 3. Else a new account without a password, linked.
//!
//! Suspended and deleted accounts are refused whichever way they were found.

use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::sql_store::SqlStore;
use sqlx::AnyConnection;

use super::id_token::IdClaims;
use goonline_engine::sql_store::begin_write;

/// The longest display name we take from a provider.
const MAX_NAME_CHARS: usize = 100;

/// How the account was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkedBy {
    /// An earlier sign-in linked this subject.
    Subject,
    /// The verified email matched an existing account, now linked.
    Email,
    /// A new account was made and linked.
    Created,
}

impl LinkedBy {
    /// For the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkedBy::Subject => "subject",
            LinkedBy::Email => "email",
            LinkedBy::Created => "created",
        }
    }
}

/// The account a sign-in lands on.
#[derive(Debug, Clone)]
pub(super) struct Linked {
    pub user_id: String,
    pub how: LinkedBy,
}

/// Why no account was signed in to.
#[derive(Debug)]
pub(super) enum LinkError {
    /// Not linked yet, and no verified email to link or create by.
    NoVerifiedEmail,
    /// An account with this email has a password. Its email was never
    /// verified (there is no mail sending), so linking would hand whoever
    /// registered it the provider's identity: refused.
    PasswordAccount,
    /// The account is suspended.
    Suspended(String),
    /// The account was deleted.
    Deleted(String),
    /// The database failed.
    Store(OpError),
}

/// Finds, links or creates the account for `claims` from `issuer`.
pub(super) async fn link(
    db: &SqlStore,
    issuer: &str,
    claims: &IdClaims,
) -> Result<Linked, LinkError> {
    match try_link(db, issuer, claims).await {
        // Two first sign-ins of the same person at once (or a registration
        // with the same email meanwhile): one insert lost a uniqueness race.
        // A second pass finds what the winner wrote.
        Err(Attempt::Raced) => match try_link(db, issuer, claims).await {
            Err(Attempt::Raced) => Err(LinkError::Store(OpError::Conflict(
                "this account is being linked by another sign-in; retry".into(),
            ))),
            Err(Attempt::Failed(e)) => Err(e),
            Ok(linked) => Ok(linked),
        },
        Err(Attempt::Failed(e)) => Err(e),
        Ok(linked) => Ok(linked),
    }
}

enum Attempt {
    Raced,
    Failed(LinkError),
}

impl From<LinkError> for Attempt {
    fn from(e: LinkError) -> Attempt {
        Attempt::Failed(e)
    }
}

fn db_error(context: &str, e: sqlx::Error) -> Attempt {
    if let sqlx::Error::Database(d) = &e
        && d.is_unique_violation()
    {
        return Attempt::Raced;
    }
    Attempt::Failed(LinkError::Store(OpError::from_db(context, e)))
}

async fn try_link(db: &SqlStore, issuer: &str, claims: &IdClaims) -> Result<Linked, Attempt> {
    let mut tx = begin_write(db.pool())
        .await
        .map_err(|e| db_error("oidc.link", e))?;
    let linked: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2",
    )
    .bind(issuer)
    .bind(&claims.subject)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db_error("oidc.link", e))?;

    if let Some(user_id) = linked {
        check_active(&mut tx, &user_id).await?;
        // Nothing written: dropping the transaction ends it.
        return Ok(Linked {
            user_id,
            how: LinkedBy::Subject,
        });
    }

    let email = claims.verified_email().ok_or(LinkError::NoVerifiedEmail)?;
    let existing: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error("oidc.link", e))?;
    let found = match existing {
        // Someone registered this address with a password, and nothing proved
        // it was theirs: linking would let them into the provider user's
        // account (pre-hijacking). Only provider-made accounts link by email.
        Some((_, Some(_))) => return Err(Attempt::Failed(LinkError::PasswordAccount)),
        Some((user_id, None)) => {
            check_active(&mut tx, &user_id).await?;
            Linked {
                user_id,
                how: LinkedBy::Email,
            }
        }
        None => Linked {
            user_id: create_user(&mut tx, email, claims).await?,
            how: LinkedBy::Created,
        },
    };

    sqlx::query(
        "INSERT INTO external_identities (issuer, subject, user_id, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(issuer)
    .bind(&claims.subject)
    .bind(&found.user_id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| db_error("oidc.link", e))?;
    tx.commit().await.map_err(|e| db_error("oidc.link", e))?;
    Ok(found)
}

/// Refuses suspended and deleted accounts (and links to accounts that vanished).
async fn check_active(conn: &mut AnyConnection, user_id: &str) -> Result<(), Attempt> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT suspended, deleted FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| db_error("oidc.link", e))?;
    match row {
        None => Err(LinkError::Deleted(user_id.to_string()).into()),
        Some((_, deleted)) if deleted != 0 => Err(LinkError::Deleted(user_id.to_string()).into()),
        Some((suspended, _)) if suspended != 0 => {
            Err(LinkError::Suspended(user_id.to_string()).into())
        }
        Some(_) => Ok(()),
    }
}

/// A new account with no password (it signs in through the provider only).
async fn create_user(
    conn: &mut AnyConnection,
    email: &str,
    claims: &IdClaims,
) -> Result<String, Attempt> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, $4, $4)",
    )
    .bind(&id)
    .bind(email)
    .bind(display_name(claims.name.as_deref(), email))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| db_error("oidc.create_user", e))?;
    Ok(id)
}

/// The provider's `name`, else the email's local part.
fn display_name(name: Option<&str>, email: &str) -> String {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    name.chars().take(MAX_NAME_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_falls_back_to_the_local_part() {
        assert_eq!(display_name(Some(" Ann Lee "), "a@x.io"), "Ann Lee");
        assert_eq!(display_name(None, "ann.lee@x.io"), "ann.lee");
        assert_eq!(display_name(Some("  "), "bo@x.io"), "bo");
        assert_eq!(display_name(Some(&"n".repeat(500)), "a@x.io").len(), 100);
    }
}
