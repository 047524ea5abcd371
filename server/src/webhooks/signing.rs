//! Signing secrets and the `GoOnline-Signature` header.
//!
//! The header is `t=<unix seconds>,v1=<hex>`: `v1` is the lower-case hex
//! HMAC-SHA256, keyed with the endpoint's secret exactly as shown
//! (`whsec_...`, as UTF-8 bytes), of `"<t>.<raw request body>"`. During a
//! secret rotation's overlap a second `v1` carries the signature with the
//! previous secret. A receiver recomputes `v1` and compares in constant time,
//! and refuses a `t` too far from its clock (replays).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What every signing secret starts with.
const SECRET_PREFIX: &str = "whsec_";

/// A new random signing secret: `whsec_` and 32 random bytes, base64url.
pub(super) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The lower-case hex HMAC-SHA256 of `"{t}.{body}"` under `secret`.
pub(super) fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    // (HMAC takes a key of any length.)
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `GoOnline-Signature` value for `body` sent at `t` (unix seconds),
/// signed with each of `secrets` (the current one first).
pub(super) fn header(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut out = format!("t={t}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&sign(s, t, body));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // The primitive `sign` uses, on a published test vector.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_header_signs_timestamp_dot_body_with_every_secret() {
        let h = header(&["whsec_a", "whsec_b"], 1700000000, b"{}");
        let parts: Vec<&str> = h.split(',').collect();
        assert_eq!(parts[0], "t=1700000000");
        assert_eq!(
            parts[1],
            format!("v1={}", sign("whsec_a", 1700000000, b"{}"))
        );
        assert_eq!(
            parts[2],
            format!("v1={}", sign("whsec_b", 1700000000, b"{}"))
        );
        assert_ne!(parts[1], parts[2]);
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}
