//! Reading a request body with a byte limit.
//!
//! A declared `Content-Length` over the limit is refused before a byte of the
//! body is read (so a client sending `Expect: 100-continue` is never invited to
//! send it); a body without one (chunked) is read until it passes the limit. The
//! caller decides how to answer: the REST API answers `413` in its JSON error
//! shape.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit (declared or actual).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The client broke off or sent a malformed body (bad chunked encoding).
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// Reads `body` whole, refusing it once it exceeds `limit` bytes.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut stream = body.into_data_stream();
    // Preallocate only what was declared and allowed, never more than the limit.
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(n: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, n.into());
        h
    }

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_past_it() {
        let ok = read_limited(&HeaderMap::new(), Body::from("12345"), 5).await;
        assert_eq!(ok.expect("fits").as_ref(), b"12345");
        let long = read_limited(&HeaderMap::new(), Body::from("123456"), 5).await;
        assert!(matches!(long, Err(BodyError::TooLarge { limit: 5 })));
        // A declared length over the limit is refused without reading.
        let declared_long = read_limited(&declared(6), Body::empty(), 5).await;
        assert!(matches!(declared_long, Err(BodyError::TooLarge { .. })));
    }
}
