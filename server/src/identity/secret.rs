//! The secret that signs access tokens.
//!
//! It comes from `--jwt-secret` when given (nodes sharing a database must share
//! it), else from `<data-dir>/jwt-secret`, which the first start creates with
//! 48 random bytes (base64url) and owner-only permissions. Either way the key is
//! the secret's text as bytes, so the file's contents can be copied into
//! `--jwt-secret` on other nodes and sign the same tokens.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ServerError;

/// Shortest secret accepted: HS256 wants a key at least as long as its hash.
pub const MIN_SECRET_BYTES: usize = 32;

/// Name of the generated secret's file in the data dir.
pub const SECRET_FILE: &str = "jwt-secret";

/// The signing key: the configured secret, or the one kept in `data_dir`
/// (created on first start).
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, ServerError> {
    if let Some(secret) = configured {
        return checked(secret.as_bytes(), "--jwt-secret");
    }
    let path = data_dir.join(SECRET_FILE);
    match read(&path)? {
        Some(secret) => Ok(secret),
        None => create(data_dir, &path),
    }
}

fn checked(secret: &[u8], origin: &str) -> Result<Vec<u8>, ServerError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ServerError::Startup(format!(
            "{origin} must be at least {MIN_SECRET_BYTES} bytes, got {}",
            secret.len()
        )));
    }
    Ok(secret.to_vec())
}

/// Reads the secret file; `None` when it does not exist yet.
fn read(path: &Path) -> Result<Option<Vec<u8>>, ServerError> {
    match fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path);
            checked(text.trim().as_bytes(), &path.display().to_string()).map(Some)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ServerError::Startup(format!(
            "cannot read the token signing secret {}: {e}",
            path.display()
        ))),
    }
}

/// Generates a secret and publishes it at `path` atomically: written in full to
/// a private temporary file, then hard-linked into place. A link never replaces
/// an existing file, so when two processes start at once both end up with the
/// one that won, and nobody reads a half-written secret.
fn create(data_dir: &Path, path: &Path) -> Result<Vec<u8>, ServerError> {
    let fail = |what: &str, e: std::io::Error| {
        ServerError::Startup(format!(
            "cannot {what} the token signing secret in {}: {e}",
            data_dir.display()
        ))
    };
    fs::create_dir_all(data_dir).map_err(|e| fail("create the directory for", e))?;
    let mut bytes = [0u8; 48];
    rand::fill(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let tmp = data_dir.join(format!(".{SECRET_FILE}.{}", uuid::Uuid::new_v4().simple()));
    let written = write_private(&tmp, secret.as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a token signing secret");
            Ok(secret.into_bytes())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| fail("read", std::io::Error::from(ErrorKind::NotFound)))
        }
        Err(e) => Err(fail("write", e)),
    }
}

/// Creates `path` (which must not exist) readable and writable by its owner
/// only, from the start: never briefly world-readable.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the token signing secret is readable by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("goonline-secret-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn generated_once_then_read_back_with_private_permissions() {
        let dir = temp_dir().join("nested");
        let first = load_or_create(None, &dir).expect("created");
        assert!(first.len() >= MIN_SECRET_BYTES);
        let again = load_or_create(None, &dir).expect("read back");
        assert_eq!(first, again, "the same secret on the next start");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(SECRET_FILE))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(dir.parent().unwrap_or(&dir));
    }

    #[test]
    fn a_short_configured_secret_is_a_startup_error() {
        let dir = temp_dir();
        assert!(load_or_create(Some("too short"), &dir).is_err());
        let ok = load_or_create(Some(&"x".repeat(32)), &dir).expect("32 bytes is enough");
        assert_eq!(ok.len(), 32);
        assert!(!dir.exists(), "a configured secret writes nothing");
    }
}
