//! Talking to the provider: its discovery document and signing keys (cached),
//! and the token endpoint.
//!
//! Every failure to reach the provider, or a provider that answers nonsense,
//! is `unavailable` (503): the user can do nothing about it but retry later. A
//! provider that refuses our code is `unauthorized` (401).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use goonline_engine::ops::OpError;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// How long discovery and keys are trusted before being fetched again.
const CACHE_TTL: Duration = Duration::from_secs(3600);
/// Keys may be fetched again this soon when a token names a key we lack (the
/// provider rotated); not sooner, so forged key ids cannot make us hammer it.
const KEYS_REFRESH_MIN: Duration = Duration::from_secs(30);
/// The largest provider answer we read.
const MAX_BODY: usize = 1024 * 1024;

/// The parts of the discovery document we use.
#[derive(Debug, Deserialize)]
pub(super) struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// How we identify ourselves at the token endpoint.
pub(super) struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
}

struct Cached<T> {
    value: Arc<T>,
    at: Instant,
}

/// One provider, by issuer.
pub(super) struct Provider {
    issuer: String,
    http: reqwest::Client,
    metadata: Mutex<Option<Cached<Metadata>>>,
    keys: Mutex<Option<Cached<Vec<Jwk>>>>,
}

impl Provider {
    pub fn new(issuer: String, http: reqwest::Client) -> Provider {
        Provider {
            issuer,
            http,
            metadata: Mutex::new(None),
            keys: Mutex::new(None),
        }
    }

    /// The discovery document, checked to name our issuer.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, OpError> {
        if let Some(c) = lock(&self.metadata).as_ref()
            && c.at.elapsed() < CACHE_TTL
        {
            return Ok(c.value.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let meta: Metadata = self.get_json(&url).await?;
        // A document naming another issuer would let that issuer's tokens in.
        if meta.issuer.trim_end_matches('/') != self.issuer.trim_end_matches('/') {
            tracing::error!(
                configured = %self.issuer,
                advertised = %meta.issuer,
                "OIDC discovery names another issuer"
            );
            return Err(unavailable());
        }
        for endpoint in [
            &meta.authorization_endpoint,
            &meta.token_endpoint,
            &meta.jwks_uri,
        ] {
            if !is_http_url(endpoint) {
                tracing::error!(%endpoint, "OIDC discovery has an invalid endpoint");
                return Err(unavailable());
            }
        }
        let meta = Arc::new(meta);
        *lock(&self.metadata) = Some(Cached {
            value: meta.clone(),
            at: Instant::now(),
        });
        Ok(meta)
    }

    /// The provider's signing keys. `refresh` asks for a fresh copy (a token
    /// names a key we do not have), honoured at most every
    /// [`KEYS_REFRESH_MIN`].
    pub async fn keys(&self, meta: &Metadata, refresh: bool) -> Result<Arc<Vec<Jwk>>, OpError> {
        if let Some(c) = lock(&self.keys).as_ref() {
            let age = c.at.elapsed();
            if age < CACHE_TTL && !(refresh && age >= KEYS_REFRESH_MIN) {
                return Ok(c.value.clone());
            }
        }
        #[derive(Deserialize)]
        struct KeySet {
            keys: Vec<serde_json::Value>,
        }
        let set: KeySet = self.get_json(&meta.jwks_uri).await?;
        // Keys of types we do not know are skipped, not fatal: providers
        // publish encryption keys and new algorithms alongside.
        let keys: Vec<Jwk> = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value(k).ok())
            .collect();
        let keys = Arc::new(keys);
        *lock(&self.keys) = Some(Cached {
            value: keys.clone(),
            at: Instant::now(),
        });
        Ok(keys)
    }

    /// Redeems an authorization code; returns the raw id_token.
    pub async fn exchange_code(
        &self,
        meta: &Metadata,
        creds: &ClientCredentials<'_>,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, OpError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(&meta.token_endpoint);
        match creds.client_secret {
            Some(secret) if uses_basic_auth(meta) => {
                // RFC 6749 2.3.1: both parts form-encoded before base64.
                let pair = format!("{}:{}", form_encode(creds.client_id), form_encode(secret));
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(pair)),
                );
            }
            Some(secret) => {
                form.push(("client_id", creds.client_id));
                form.push(("client_secret", secret));
            }
            None => form.push(("client_id", creds.client_id)),
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable_provider(&meta.token_endpoint, e))?;
        let status = response.status();
        let bytes = read_capped(response).await?;
        if status.is_server_error() {
            tracing::warn!(%status, "OIDC token endpoint failed");
            return Err(unavailable());
        }
        if !status.is_success() {
            #[derive(Deserialize)]
            struct TokenError {
                error: Option<String>,
            }
            let code = serde_json::from_slice::<TokenError>(&bytes)
                .ok()
                .and_then(|e| e.error)
                .unwrap_or_else(|| status.as_u16().to_string());
            return Err(OpError::Unauthorized(format!(
                "the provider refused the sign-in code ({})",
                super::sanitize_code(&code)
            )));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: Option<String>,
        }
        let tokens: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "OIDC token endpoint answered invalid JSON");
            unavailable()
        })?;
        tokens
            .id_token
            .ok_or_else(|| OpError::Unauthorized("the provider returned no id_token".into()))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, OpError> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unreachable_provider(url, e))?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(%url, %status, "OIDC provider request failed");
            return Err(unavailable());
        }
        let bytes = read_capped(response).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(%url, error = %e, "OIDC provider answered invalid JSON");
            unavailable()
        })
    }
}

/// client_secret_basic is the default (OpenID Connect Core 9); post only when
/// the provider lists post and not basic.
fn uses_basic_auth(meta: &Metadata) -> bool {
    let offers = |method: &str| {
        meta.token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == method)
    };
    offers("client_secret_basic") || !offers("client_secret_post")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A cache is still usable after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unavailable() -> OpError {
    OpError::Unavailable("the sign-in provider is unavailable; retry later".into())
}

fn unreachable_provider(url: &str, e: reqwest::Error) -> OpError {
    tracing::warn!(%url, error = %e, "OIDC provider unreachable");
    unavailable()
}

fn is_http_url(s: &str) -> bool {
    reqwest::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Reads a body of at most [`MAX_BODY`] bytes.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, OpError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    tracing::warn!("OIDC provider answer too large");
                    return Err(unavailable());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(unreachable_provider(response.url().as_str(), e)),
        }
    }
}

/// `application/x-www-form-urlencoded` for one name or value (spaces as
/// `%20`, which every decoder accepts).
pub(super) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(form_encode("Az09-._~"), "Az09-._~");
    }

    fn meta(methods: &[&str]) -> Metadata {
        Metadata {
            issuer: "https://idp".into(),
            authorization_endpoint: "https://idp/a".into(),
            token_endpoint: "https://idp/t".into(),
            jwks_uri: "https://idp/k".into(),
            token_endpoint_auth_methods_supported: methods.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn basic_auth_unless_only_post_is_offered() {
        assert!(uses_basic_auth(&meta(&[])));
        assert!(uses_basic_auth(&meta(&[
            "client_secret_post",
            "client_secret_basic"
        ])));
        assert!(!uses_basic_auth(&meta(&["client_secret_post"])));
    }
}
