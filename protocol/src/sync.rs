//! The y-protocols sync messages (`y-protocols/sync.js`), shared by every dialect.
//!
//! A sync message is `varUint(tag)` then one `varByteArray`:
//!
//! | tag | message   | payload                                  |
//! |-----|-----------|------------------------------------------|
//! | 0   | SyncStep1 | the sender's encoded state vector        |
//! | 1   | SyncStep2 | a v1 update with what the receiver lacks |
//! | 2   | Update    | a v1 update                              |
//!
//! y-websocket puts it after its own message type 0, Hocuspocus after the address
//! and type 0 (or 4, SyncReply). The payloads are passed through unparsed; yrs
//! decodes them.

use crate::lib0::{DecodeError, Reader, var_bytes_len, write_var_bytes, write_var_uint};

/// Tag of SyncStep1 (`messageYjsSyncStep1`).
pub const SYNC_STEP1: u64 = 0;
/// Tag of SyncStep2 (`messageYjsSyncStep2`).
pub const SYNC_STEP2: u64 = 1;
/// Tag of Update (`messageYjsUpdate`).
pub const SYNC_UPDATE: u64 = 2;

/// One y-protocols sync message; payloads are borrowed from the received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMessage<'a> {
    /// "Here is my state vector, send me what I lack" (encoded state vector).
    Step1(&'a [u8]),
    /// The answer to a Step1: a v1 update with everything the asker lacks.
    Step2(&'a [u8]),
    /// An incremental v1 update.
    Update(&'a [u8]),
}

impl<'a> SyncMessage<'a> {
    /// Reads one sync message from `r`, leaving whatever follows it unread.
    pub fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let tag = r.read_var_uint()?;
        // Check the tag before reading the payload so an unknown tag is reported as
        // such rather than as whatever the following bytes happen to fail with.
        let make: fn(&'a [u8]) -> Self = match tag {
            SYNC_STEP1 => Self::Step1,
            SYNC_STEP2 => Self::Step2,
            SYNC_UPDATE => Self::Update,
            value => {
                return Err(DecodeError::UnknownMessageType {
                    kind: "sync",
                    value,
                });
            }
        };
        Ok(make(r.read_var_bytes()?))
    }

    /// Decodes a buffer that holds exactly one sync message.
    pub fn decode_all(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let msg = Self::decode(&mut r)?;
        r.finish()?;
        Ok(msg)
    }

    /// The wire tag (0, 1 or 2).
    pub fn tag(&self) -> u64 {
        match self {
            Self::Step1(_) => SYNC_STEP1,
            Self::Step2(_) => SYNC_STEP2,
            Self::Update(_) => SYNC_UPDATE,
        }
    }

    /// The state vector or update bytes.
    pub fn payload(&self) -> &'a [u8] {
        match *self {
            Self::Step1(p) | Self::Step2(p) | Self::Update(p) => p,
        }
    }

    /// How many bytes [`encode`](Self::encode) appends.
    pub fn encoded_len(&self) -> usize {
        // Every tag is below 128, so it takes one byte.
        1 + var_bytes_len(self.payload().len())
    }

    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_var_uint(out, self.tag());
        write_var_bytes(out, self.payload());
    }

    /// The message as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// Appends SyncStep1 carrying the encoded state vector `sv`.
pub fn encode_step1(sv: &[u8], out: &mut Vec<u8>) {
    SyncMessage::Step1(sv).encode(out);
}

/// Appends SyncStep2 carrying the v1 update `update`.
pub fn encode_step2(update: &[u8], out: &mut Vec<u8>) {
    SyncMessage::Step2(update).encode(out);
}

/// Appends Update carrying the v1 update `update`.
pub fn encode_update(update: &[u8], out: &mut Vec<u8>) {
    SyncMessage::Update(update).encode(out);
}
