//! id_token validation (OpenID Connect Core 3.1.3.7): the signature, by a key
//! the provider publishes (RS/PS/ES) or by our client secret (HS256), never
//! unsigned; the issuer; our client id among the audiences; expiry; and the
//! nonce of this sign-in. Every failure is `unauthorized`.

use goonline_engine::ops::OpError;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer};

use super::provider::{ClientCredentials, Metadata, Provider};

/// Clock skew tolerated between us and the provider, in seconds.
const LEEWAY_SECS: u64 = 60;

/// What a valid id_token tells us about the user.
#[derive(Debug, Clone)]
pub(super) struct IdClaims {
    /// The provider's stable id for the user.
    pub subject: String,
    /// The email address, lower-cased, if the provider shared a plausible one.
    pub email: Option<String>,
    /// Whether the provider verified that the user controls `email`.
    pub email_verified: bool,
    /// The user's full name, if shared.
    pub name: Option<String>,
}

impl IdClaims {
    /// The email, only if the provider verified it.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    /// Only counted here (the library checks that we are among them).
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
    #[serde(default)]
    name: Option<String>,
}

/// Some providers send `"email_verified": "true"`; anything but true or
/// `"true"` counts as not verified.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

fn invalid(message: &str) -> OpError {
    OpError::Unauthorized(format!("the provider's id_token is invalid: {message}"))
}

/// Validates `token` for this sign-in and returns its claims.
pub(super) async fn validate(
    provider: &Provider,
    meta: &Metadata,
    creds: &ClientCredentials<'_>,
    token: &str,
    expected_nonce: &str,
) -> Result<IdClaims, OpError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
    let alg = header.alg;
    let keys: Vec<DecodingKey> = match alg {
        // Shared-secret signatures only with our own secret: a key from the
        // JWKS must never be taken as an HMAC secret (it is public).
        Algorithm::HS256 => match creds.client_secret {
            Some(secret) => vec![DecodingKey::from_secret(secret.as_bytes())],
            None => return Err(invalid("HS256 needs a client secret, and we have none")),
        },
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
        | Algorithm::ES256
        | Algorithm::ES384 => {
            let kid = header.kid.as_deref();
            let mut keys = matching_keys(&provider.keys(meta, false).await?, alg, kid);
            if keys.is_empty() {
                // The provider may have rotated its keys since we cached them.
                keys = matching_keys(&provider.keys(meta, true).await?, alg, kid);
            }
            keys
        }
        _ => return Err(invalid("unsupported signing algorithm")),
    };
    if keys.is_empty() {
        return Err(invalid("signed with a key the provider does not publish"));
    }

    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.set_issuer(&[&meta.issuer]);
    validation.set_audience(&[creds.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let mut last = invalid("bad signature");
    let mut claims = None;
    for key in &keys {
        match jsonwebtoken::decode::<RawClaims>(token, key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => {
                last = describe(e.kind());
                // Another key with the same id or type may still verify it;
                // any other failure is the token's own.
                let key_problem = matches!(
                    e.kind(),
                    ErrorKind::InvalidSignature
                        | ErrorKind::InvalidEcdsaKey
                        | ErrorKind::InvalidRsaKey(_)
                        | ErrorKind::InvalidKeyFormat
                );
                if !key_problem {
                    return Err(last);
                }
            }
        }
    }
    let claims = claims.ok_or(last)?;

    if claims.nonce.as_deref() != Some(expected_nonce) {
        return Err(invalid("it belongs to another sign-in (nonce)"));
    }
    // Core 3.1.3.7 (4, 5): a token for several clients must say which one it
    // was issued to, and that must be us.
    let several = claims.aud.as_array().is_some_and(|a| a.len() > 1);
    match claims.azp.as_deref() {
        Some(azp) if azp != creds.client_id => {
            return Err(invalid("issued to another client (azp)"));
        }
        None if several => return Err(invalid("several audiences and no azp")),
        _ => {}
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(invalid("bad subject"));
    }
    Ok(IdClaims {
        subject: claims.sub,
        email: claims.email.and_then(|e| normalize_email(&e)),
        email_verified: claims.email_verified,
        name: claims
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    })
}

/// The published keys that could have signed a token with `alg` and `kid`.
fn matching_keys(keys: &[Jwk], alg: Algorithm, kid: Option<&str>) -> Vec<DecodingKey> {
    keys.iter()
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|k| {
            k.common
                .key_algorithm
                .is_none_or(|a| a == KeyAlgorithm::from(alg))
        })
        .filter(|k| match (&k.algorithm, alg) {
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => true,
            (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
                p.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => {
                p.curve == EllipticCurve::P384
            }
            _ => false,
        })
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect()
}

fn describe(kind: &ErrorKind) -> OpError {
    invalid(match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => "bad signature",
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not valid yet",
        ErrorKind::InvalidIssuer => "issued by another issuer",
        ErrorKind::InvalidAudience => "issued to another client",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidAlgorithm => "the algorithm does not match the key",
        _ => "malformed",
    })
}

/// Lower-cases a plausible address; `None` for anything that is not one.
fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(normalize_email("no-at-sign"), None);
        assert_eq!(normalize_email("@example.com"), None);
        assert_eq!(normalize_email("a b@example.com"), None);
    }

    #[test]
    fn email_verified_accepts_bool_or_string() {
        let c: RawClaims =
            serde_json::from_str(r#"{"sub":"s","email_verified":"true","aud":["a","b"]}"#)
                .expect("parse");
        assert!(c.email_verified);
        assert_eq!(c.aud.as_array().map(Vec::len), Some(2));
        let c: RawClaims =
            serde_json::from_str(r#"{"sub":"s","email_verified":1,"aud":"a"}"#).expect("parse");
        assert!(!c.email_verified);
    }
}
