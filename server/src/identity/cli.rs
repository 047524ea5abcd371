//! `goonline user create`: accounts from the command line, chiefly the first
//! platform admin (nobody can grant that role over the API before one exists).
//!
//! It opens the same database `serve` would (same `--data-dir` /
//! `--database-url`), running the migrations, so it works before the first
//! start. The password comes from stdin (`--password-stdin`) or is generated and
//! printed once; it is never passed as an argument, where other users of the
//! machine could read it in the process list. The user id is the first line on
//! stdout, so scripts can capture it.

use std::io::Read;

use goonline_engine::audit::{AuditLog, Outcome};
use goonline_engine::now_ms;
use goonline_engine::ops::params::Password;
use goonline_engine::sql_store::SqlStore;
use serde_json::json;

use super::accounts::{self, NewAccount};
use super::password::Passwords;
use super::tokens::base64url;
use crate::config::{UserArgs, UserCommand, UserCreateArgs};
use goonline_engine::sql_store::begin_write;

/// Runs a `goonline user` subcommand; the error is the message to print.
pub async fn run(args: UserArgs) -> Result<(), String> {
    match args.command {
        UserCommand::Create(create) => create_user(create).await,
    }
}

async fn create_user(args: UserCreateArgs) -> Result<(), String> {
    // Read the password before touching the database, so a bad one changes
    // nothing.
    let given = if args.password_stdin {
        Some(password_from_stdin()?)
    } else {
        None
    };
    if args.database_url.is_none() {
        std::fs::create_dir_all(&args.data_dir).map_err(|e| {
            format!(
                "cannot create the data dir {}: {e}",
                args.data_dir.display()
            )
        })?;
    }
    let db = SqlStore::connect(&args.database_url())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let result = create_in(&db, &args, given).await;
    db.close().await;
    result
}

async fn create_in(
    db: &SqlStore,
    args: &UserCreateArgs,
    given: Option<Password>,
) -> Result<(), String> {
    let email = args.email.as_str();
    let fail = |e: sqlx::Error| format!("database error: {e}");
    if let Some((account, _)) = accounts::with_hash_by_email(db.pool(), email)
        .await
        .map_err(fail)?
    {
        if !args.platform_admin {
            return Err(format!(
                "an account with this email already exists (id {}); add --platform-admin to \
                 promote it",
                account.id
            ));
        }
        if !account.platform_admin {
            promote(db, &account.id).await.map_err(fail)?;
            eprintln!("promoted the existing account to platform admin");
        } else {
            eprintln!("the account is already a platform admin");
        }
        if given.is_some() {
            eprintln!("note: the account existed, so its password was left unchanged");
        }
        println!("{}", account.id);
        return Ok(());
    }
    let (password, generated) = match given {
        Some(p) => (p, false),
        None => (generate_password()?, true),
    };
    let hash = Passwords::default()
        .hash(&password)
        .await
        .map_err(|e| e.to_string())?;
    let name = match &args.name {
        Some(n) => n.as_str().to_string(),
        None => default_name(email),
    };
    let mut tx = begin_write(db.pool()).await.map_err(fail)?;
    let new = NewAccount {
        email,
        display_name: &name,
        password_hash: Some(&hash),
        platform_admin: args.platform_admin,
    };
    let account = accounts::insert(&mut *tx, &new).await.map_err(|e| {
        if accounts::is_unique_violation(&e) {
            "an account with this email was created meanwhile; run again".to_string()
        } else {
            fail(e)
        }
    })?;
    let entry = super::event(
        None,
        "user.created",
        Some(&account.id),
        Outcome::Ok,
        json!({ "via": "cli", "platform_admin": args.platform_admin }),
        None,
    );
    AuditLog::append_in(&mut tx, &entry).await.map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    println!("{}", account.id);
    if generated {
        println!("password: {}", password.expose());
        eprintln!("the password is shown once: store it now");
    }
    Ok(())
}

/// Makes `user` a platform admin, with an audit entry.
async fn promote(db: &SqlStore, user: &str) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(db.pool()).await?;
    sqlx::query("UPDATE users SET platform_admin = 1, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let entry = super::event(
        None,
        "user.promoted",
        Some(user),
        Outcome::Ok,
        json!({ "via": "cli", "platform_admin": true }),
        None,
    );
    AuditLog::append_in(&mut tx, &entry).await?;
    tx.commit().await
}

/// The first line of stdin, without its line ending.
fn password_from_stdin() -> Result<Password, String> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let line = text.lines().next().unwrap_or("");
    Password::parse(line.to_string()).map_err(|e| format!("the password from stdin {e}"))
}

/// 18 random bytes: 24 characters of base64url, 144 bits.
fn generate_password() -> Result<Password, String> {
    let mut bytes = [0u8; 18];
    rand::fill(&mut bytes);
    Password::parse(base64url(&bytes))
}

/// The part of `email` before `@` (never empty: `params::Email` checked it).
fn default_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    local.chars().take(100).collect()
}
