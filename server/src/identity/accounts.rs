//! The `users` table: reading accounts, creating them, and the view the API
//! shows. Emails are stored normalized (lower-case, via `params::Email`); an
//! erased account keeps its row with the email, name and password hash gone.

use goonline_engine::now_ms;
use schemars::JsonSchema;
use serde::Serialize;
use sqlx::{Any, Executor};

/// Display name an erased account keeps (the column is `NOT NULL`).
pub const ERASED_NAME: &str = "deleted user";

/// The columns [`Account`] is read from, in order.
const COLUMNS: &str =
    "id, email, display_name, platform_admin, suspended, deleted, created_at, updated_at";

type Row = (String, Option<String>, String, i64, i64, i64, i64, i64);

/// [`Row`] followed by the password hash.
type RowWithHash = (
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

/// An account as stored (without its password hash).
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id (UUIDv7).
    pub id: String,
    /// Normalized email; `None` once erased.
    pub email: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Platform admin.
    pub platform_admin: bool,
    /// Suspended by a platform admin: cannot sign in.
    pub suspended: bool,
    /// Personal data erased: cannot sign in.
    pub deleted: bool,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

impl Account {
    fn from_row(r: Row) -> Account {
        Account {
            id: r.0,
            email: r.1,
            display_name: r.2,
            platform_admin: r.3 != 0,
            suspended: r.4 != 0,
            deleted: r.5 != 0,
            created_at: r.6,
            updated_at: r.7,
        }
    }

    /// Whether it may sign in and hold live sessions.
    pub fn active(&self) -> bool {
        !self.suspended && !self.deleted
    }

    /// What the API shows of it.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            platform_admin: self.platform_admin,
            created_at: self.created_at,
        }
    }
}

/// A user as the API shows them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// Their email (lower-cased).
    pub email: Option<String>,
    /// Their display name.
    pub display_name: String,
    /// Whether they are a platform admin.
    pub platform_admin: bool,
    /// When the account was created, epoch ms.
    pub created_at: i64,
}

/// The account with `id`, erased or not.
pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: &str,
) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(Account::from_row))
}

/// The (not erased) account with `email`, and its password hash.
pub async fn with_hash_by_email<'c, E: Executor<'c, Database = Any>>(
    db: E,
    email: &str,
) -> Result<Option<(Account, Option<String>)>, sqlx::Error> {
    let row: Option<RowWithHash> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE email = $1 AND deleted = 0"
    ))
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let hash = r.8;
        (
            Account::from_row((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7)),
            hash,
        )
    }))
}

/// The password hash of account `id` (`None`: no password, or no account).
pub async fn password_hash<'c, E: Executor<'c, Database = Any>>(
    db: E,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND deleted = 0")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(hash.flatten())
}

/// A new account's fields.
pub struct NewAccount<'a> {
    /// Normalized email.
    pub email: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// argon2id PHC string, if the account has a password.
    pub password_hash: Option<&'a str>,
    /// Platform admin from the start (the CLI only).
    pub platform_admin: bool,
}

/// Inserts an account; returns it. A taken email is a unique violation (see
/// [`is_unique_violation`]).
pub async fn insert<'c, E: Executor<'c, Database = Any>>(
    db: E,
    new: &NewAccount<'_>,
) -> Result<Account, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, platform_admin, \
         suspended, deleted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6)",
    )
    .bind(&id)
    .bind(new.email)
    .bind(new.display_name)
    .bind(new.password_hash)
    .bind(i32::from(new.platform_admin))
    .bind(now)
    .execute(db)
    .await?;
    Ok(Account {
        id,
        email: Some(new.email.to_string()),
        display_name: new.display_name.to_string(),
        platform_admin: new.platform_admin,
        suspended: false,
        deleted: false,
        created_at: now,
        updated_at: now,
    })
}

/// Whether `e` is a unique-constraint violation (on both backends).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
