//! A small OpenID Connect provider the tests start themselves, and a raw
//! HTTP/1.1 GET to walk the browser's part of the flow.
//!
//! It serves discovery, an authorize endpoint that approves the configured user
//! at once (redirecting to `redirect_uri` with a code and the state), a token
//! endpoint that checks the client's credentials, the code, the redirect URI
//! and the PKCE verifier against the challenge, and an ES256 key generated at
//! start, published at `jwks_uri`. [`Tamper`] makes the id_token wrong in one
//! chosen way, to see the relying party refuse it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const CLIENT_ID: &str = "goonline-test";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
const KID: &str = "test-key-1";

/// Who the authorize endpoint signs in.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl TestUser {
    /// A user with a verified email.
    pub fn verified(subject: &str, email: &str, name: &str) -> TestUser {
        TestUser {
            subject: subject.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some(name.into()),
        }
    }
}

/// One way to spoil the token endpoint's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tamper {
    #[default]
    None,
    /// Signed by a key the provider does not publish (under the published kid).
    ForeignKey,
    /// `aud` names another client.
    WrongAudience,
    /// `nonce` is not the one of this sign-in.
    WrongNonce,
    /// `iss` names another issuer.
    WrongIssuer,
    /// Expired ten minutes ago.
    Expired,
    /// `alg: none`, no signature.
    Unsigned,
    /// HS256 with a secret that is not ours.
    HmacWrongSecret,
    /// HS256 with our client secret (valid).
    HmacClientSecret,
    /// No id_token at all.
    NoIdToken,
}

/// How the provider behaves; change it between sign-ins.
#[derive(Debug, Clone)]
pub struct Options {
    pub user: TestUser,
    pub tamper: Tamper,
    /// `token_endpoint_auth_methods_supported` in discovery (empty: omitted).
    pub auth_methods: Vec<&'static str>,
    /// The authorize endpoint answers `error=access_denied`.
    pub deny: bool,
    /// Discovery names this issuer instead of the real one.
    pub advertised_issuer: Option<String>,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    user: TestUser,
}

struct Shared {
    issuer: String,
    options: Mutex<Options>,
    grants: Mutex<HashMap<String, Grant>>,
    key: EncodingKey,
    foreign_key: EncodingKey,
    jwk: Jwk,
    /// How each token request authenticated: `basic` or `post`.
    client_auth: Mutex<Vec<&'static str>>,
}

/// The provider, serving until dropped.
pub struct TestProvider {
    pub issuer: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestProvider {
    pub async fn start(user: TestUser) -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let key = es256_key();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
        jwk.common.key_id = Some(KID.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            options: Mutex::new(Options {
                user,
                tamper: Tamper::None,
                auth_methods: Vec::new(),
                deny: false,
                advertised_issuer: None,
            }),
            grants: Mutex::new(HashMap::new()),
            key,
            foreign_key: es256_key(),
            jwk,
            client_auth: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestProvider {
            issuer,
            shared,
            task,
        }
    }

    /// Changes how the provider behaves from the next request on.
    pub fn configure(&self, f: impl FnOnce(&mut Options)) {
        f(&mut self.shared.options.lock().unwrap());
    }

    pub fn set_user(&self, user: TestUser) {
        self.configure(|o| o.user = user);
    }

    pub fn set_tamper(&self, tamper: Tamper) {
        self.configure(|o| o.tamper = tamper);
    }

    /// How the token requests so far authenticated the client.
    pub fn client_auth_methods(&self) -> Vec<&'static str> {
        self.shared.client_auth.lock().unwrap().clone()
    }
}

/// A P-256 key from 32 random bytes (nearly all are valid scalars; retry the
/// rest), as the PKCS#8 DER jsonwebtoken signs with.
fn es256_key() -> EncodingKey {
    use p256::pkcs8::EncodePrivateKey;
    loop {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
            let der = secret.to_pkcs8_der().expect("pkcs8");
            return EncodingKey::from_ec_der(der.as_bytes());
        }
    }
}

fn random_code() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    let o = s.options.lock().unwrap().clone();
    let mut doc = json!({
        "issuer": o.advertised_issuer.unwrap_or_else(|| s.issuer.clone()),
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "HS256"],
        "code_challenge_methods_supported": ["S256"],
    });
    if !o.auth_methods.is_empty() {
        doc["token_endpoint_auth_methods_supported"] = json!(o.auth_methods);
    }
    axum::Json(doc).into_response()
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!({ "keys": [s.jwk] })).into_response()
}

async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let problems = [
        (param("response_type") == "code", "response_type"),
        (param("client_id") == CLIENT_ID, "client_id"),
        (!param("redirect_uri").is_empty(), "redirect_uri"),
        (param("scope").split(' ').any(|p| p == "openid"), "scope"),
        (!param("state").is_empty(), "state"),
        (!param("nonce").is_empty(), "nonce"),
        (!param("code_challenge").is_empty(), "code_challenge"),
        (
            param("code_challenge_method") == "S256",
            "code_challenge_method",
        ),
    ];
    if let Some((_, what)) = problems.iter().find(|(ok, _)| !ok) {
        return (StatusCode::BAD_REQUEST, format!("bad {what}")).into_response();
    }
    let options = s.options.lock().unwrap().clone();
    let mut back = reqwest::Url::parse(param("redirect_uri")).expect("redirect_uri");
    if options.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", param("state"));
    } else {
        let code = random_code();
        s.grants.lock().unwrap().insert(
            code.clone(),
            Grant {
                redirect_uri: param("redirect_uri").into(),
                challenge: param("code_challenge").into(),
                nonce: param("nonce").into(),
                user: options.user,
            },
        );
        back.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", param("state"));
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let form = parse_form(&body);
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (method, id, secret) = match basic {
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
            ("basic", form_decode(id), form_decode(secret))
        }
        None => ("post", field("client_id"), field("client_secret")),
    };
    s.client_auth.lock().unwrap().push(method);
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(grant) = s.grants.lock().unwrap().remove(&field("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if field("redirect_uri") != grant.redirect_uri || challenge != grant.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let tamper = s.options.lock().unwrap().tamper;
    if tamper == Tamper::NoIdToken {
        return axum::Json(json!({ "access_token": "at", "token_type": "Bearer" })).into_response();
    }
    let id_token = sign_id_token(&s, &grant, tamper);
    axum::Json(json!({
        "access_token": "provider-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn sign_id_token(s: &Shared, grant: &Grant, tamper: Tamper) -> String {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut claims = json!({
        "iss": s.issuer,
        "sub": grant.user.subject,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": grant.nonce,
        "email_verified": grant.user.email_verified,
    });
    if let Some(email) = &grant.user.email {
        claims["email"] = json!(email);
    }
    if let Some(name) = &grant.user.name {
        claims["name"] = json!(name);
    }
    match tamper {
        Tamper::WrongAudience => claims["aud"] = json!("someone-else"),
        Tamper::WrongNonce => claims["nonce"] = json!("not-this-sign-in"),
        Tamper::WrongIssuer => claims["iss"] = json!("https://evil.example"),
        Tamper::Expired => {
            claims["iat"] = json!(now - 1200);
            claims["exp"] = json!(now - 600);
        }
        _ => {}
    }
    let es256 = |key: &EncodingKey| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, key).expect("sign")
    };
    let hs256 = |secret: &str| {
        let key = EncodingKey::from_secret(secret.as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
    };
    match tamper {
        Tamper::ForeignKey => es256(&s.foreign_key),
        Tamper::HmacClientSecret => hs256(CLIENT_SECRET),
        Tamper::HmacWrongSecret => hs256("some-other-secret-0123456789abcdef"),
        Tamper::Unsigned => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
        _ => es256(&s.key),
    }
}

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` (`+` and `%XX`).
fn form_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|&b| hex(b)),
                    bytes.get(i + 2).and_then(|&b| hex(b)),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// A minimal HTTP/1.1 GET of an absolute `http://` URL, as a browser following
/// redirects by hand would send it.
pub async fn visit(url: &str) -> RawResponse {
    let url = reqwest::Url::parse(url).expect("url");
    let addr: SocketAddr = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
    .parse()
    .expect("an IP address");
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut location = None;
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("transfer-encoding") {
            panic!("chunked bodies are not supported by this little client");
        }
        if name.eq_ignore_ascii_case("location") {
            location = Some(value.trim().to_string());
        }
    }
    RawResponse {
        status,
        location,
        body: body.to_string(),
    }
}
