//! Parameter types that validate themselves while they are read, so a bad value
//! is an `invalid_argument` naming its field, never a handler's problem; and the
//! decoding of a call's params into an operation's typed struct.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::error::OpError;

/// Decodes `params` into `P`. Errors name the offending field as a dotted path:
/// a missing field, an unknown one, a wrong type or a value out of range.
pub fn decode<P: DeserializeOwned>(params: Value) -> Result<P, OpError> {
    let params = match params {
        Value::Null => Value::Object(Default::default()),
        v @ Value::Object(_) => v,
        _ => return Err(OpError::invalid("", "params must be an object")),
    };
    serde_path_to_error::deserialize::<_, P>(params).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports a missing or unknown field on the enclosing object; name
        // the field itself.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| inner.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let base = if path == "." { String::new() } else { path };
        // (An unknown field's path already ends with its name.)
        let field = match named {
            Some(name) if base.is_empty() => name,
            Some(name) if base == name || base.ends_with(&format!(".{name}")) => base,
            Some(name) => format!("{base}.{name}"),
            None => base,
        };
        OpError::invalid(field, inner)
    })
}

/// A string of `MIN..=MAX` characters, trimmed of surrounding whitespace, with
/// no control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Checks and trims `s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let n = t.chars().count();
        if n < MIN || n > MAX {
            return Err(format!("must be {MIN} to {MAX} characters, got {n}"));
        }
        if t.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Text(t.to_string()))
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Debug for Text<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Text<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Text::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for Text<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<const MIN: usize, const MAX: usize> JsonSchema for Text<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": MIN, "maxLength": MAX })
    }
}

/// An email address, lower-cased: one `@`, a non-empty local part, a dotted
/// domain, no spaces, at most 254 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks and normalizes `s`.
    pub fn parse(s: &str) -> Result<Email, String> {
        let e = s.trim().to_lowercase();
        let ok = e.len() <= 254
            && !e.chars().any(|c| c.is_whitespace() || c.is_control())
            && match e.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if ok {
            Ok(Email(e))
        } else {
            Err("must be an email address like name@example.com".into())
        }
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl JsonSchema for Email {
    fn schema_name() -> Cow<'static, str> {
        "Email".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "email", "maxLength": 254 })
    }
}

/// A password: 8 to 256 characters, kept exactly as typed. Its `Debug` never
/// shows it, so it cannot end up in a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password.
    pub const MIN: usize = 8;
    /// Longest accepted password (argon2 cost grows with length).
    pub const MAX: usize = 256;

    /// The secret.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks `s`.
    pub fn parse(s: String) -> Result<Password, String> {
        let n = s.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&n) {
            return Err(format!(
                "must be {} to {} characters, got {n}",
                Self::MIN,
                Self::MAX
            ));
        }
        Ok(Password(s))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Password::parse(s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Password {
    fn schema_name() -> Cow<'static, str> {
        "Password".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string", "format": "password",
            "minLength": Password::MIN, "maxLength": Password::MAX
        })
    }
}

/// An id parameter: 1 to 64 characters of `[A-Za-z0-9_-]` (our ids are UUIDs).
pub type Id = IdText;

/// See [`Id`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IdText(String);

impl IdText {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty()
            || s.len() > 64
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(serde::de::Error::custom(
                "must be an id: 1 to 64 characters of letters, digits, `-` and `_`",
            ));
        }
        Ok(IdText(s))
    }
}

impl Serialize for IdText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl JsonSchema for IdText {
    fn schema_name() -> Cow<'static, str> {
        "Id".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$" })
    }
}

/// Reads a number given either as a JSON number or as a decimal string (query
/// strings carry only strings). Use with `#[serde(default, deserialize_with)]`.
pub fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    lenient_number(d)
}

/// As [`lenient_u32`], for signed 64-bit numbers (ids, times).
pub fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    lenient_number(d)
}

fn lenient_number<'de, D, N>(d: D) -> Result<Option<N>, D::Error>
where
    D: Deserializer<'de>,
    N: Deserialize<'de> + std::str::FromStr,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText<N> {
        Num(N),
        Text(String),
    }
    match Option::<NumOrText<N>>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrText::Num(n)) => Ok(Some(n)),
        Some(NumOrText::Text(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("must be a whole number")),
    }
}
