//! The lib0 binary encoding that Yjs, y-protocols and Hocuspocus put on the wire.
//!
//! Only the three primitives the sync protocols use are implemented:
//!
//! - `varUint`: 7 bits per byte, least significant group first; a set high bit
//!   means another byte follows. JavaScript numbers are doubles, so lib0 stops at
//!   2^53 - 1 (`Number.MAX_SAFE_INTEGER`); we reject anything larger, and anything
//!   longer than the 8 bytes that limit needs, so a stream of continuation bytes
//!   cannot keep the decoder busy.
//! - `varByteArray`: `varUint(len)` then `len` bytes.
//! - `varString`: a `varByteArray` of UTF-8. lib0 decodes with a fatal
//!   `TextDecoder`, so invalid UTF-8 is an error on both sides.
//!
//! [`Reader`] decodes without copying: byte arrays and strings are borrowed from the
//! input frame. A length prefix larger than what is left is rejected before any
//! slice or allocation is made, so a hostile length costs nothing.

/// Why a frame could not be decoded.
///
/// Every decoder in this crate returns this; it is cheap to clone and compare so
/// tests and callers can match on exact values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended in the middle of a value (also: a length prefix that points
    /// past the end of the input).
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A varUint is larger than 2^53 - 1 or longer than 8 bytes.
    #[error("varUint is larger than 2^53 - 1")]
    VarUintOverflow,
    /// A varString is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A message-type tag that the dialect does not define.
    #[error("unknown {kind} message type {value}")]
    UnknownMessageType {
        /// Which tag was being read, e.g. `"sync"` or `"hocuspocus"`.
        kind: &'static str,
        /// The tag value that was read.
        value: u64,
    },
    /// A field holds a value outside the set the protocol allows (e.g. a
    /// Hocuspocus SyncStatus other than 0 or 1).
    #[error("invalid value {value} for {field}")]
    InvalidValue {
        /// Which field was being read.
        field: &'static str,
        /// The value that was read.
        value: u64,
    },
    /// The message was complete but bytes were left over. Real clients send one
    /// message per frame, so leftovers mean a framing bug or garbage.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// The largest integer a JavaScript number holds exactly, and so the largest
/// varUint lib0 reads or writes.
pub const MAX_VAR_UINT: u64 = (1 << 53) - 1;

/// A varUint of at most 53 bits never needs more than this many bytes.
const MAX_VAR_UINT_BYTES: usize = 8;

/// A cursor over one received frame that decodes lib0 values, borrowing from it.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Reads one raw byte.
    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads a varUint (at most 2^53 - 1, at most 8 bytes).
    pub fn read_var_uint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..MAX_VAR_UINT_BYTES {
            let b = self.read_u8()?;
            // 7 * 7 = 49, so the shift stays below 64 and `<<` cannot overflow.
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                // The 8th byte can carry up to 7 bits, 3 more than 53 allow.
                return if value > MAX_VAR_UINT {
                    Err(DecodeError::VarUintOverflow)
                } else {
                    Ok(value)
                };
            }
        }
        // Eight continuation bytes: the value needs more than 56 bits.
        Err(DecodeError::VarUintOverflow)
    }

    /// Reads exactly `len` bytes, borrowed from the input.
    pub fn read_bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.buf.len() - self.pos {
            return Err(DecodeError::UnexpectedEnd);
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Reads a varByteArray (`varUint(len)` then the bytes), borrowed from the input.
    pub fn read_var_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.read_var_uint()?;
        // Compare as u64 before converting: on 32-bit targets a 53-bit length does
        // not fit in usize, and it exceeds any real input anyway.
        if len > (self.buf.len() - self.pos) as u64 {
            return Err(DecodeError::UnexpectedEnd);
        }
        self.read_bytes(len as usize)
    }

    /// Reads a varString (a varByteArray of UTF-8), borrowed from the input.
    pub fn read_var_string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.read_var_bytes()?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// How many bytes have been read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Ends decoding; fails with [`DecodeError::TrailingBytes`] if bytes are left.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends `v` as a varUint.
///
/// Values above [`MAX_VAR_UINT`] are written faithfully (up to 10 bytes), but no
/// JavaScript peer, and not [`Reader::read_var_uint`], can read them back: keep
/// anything that goes to a Yjs client within 53 bits.
pub fn write_var_uint(out: &mut Vec<u8>, mut v: u64) {
    while v > 0x7f {
        out.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

/// How many bytes [`write_var_uint`] writes for `v`; lets encoders size buffers once.
pub fn var_uint_len(v: u64) -> usize {
    // Bits needed (at least 1 so that 0 takes one byte), 7 per byte, rounded up.
    let bits = (64 - v.leading_zeros()).max(1) as usize;
    bits.div_ceil(7)
}

/// Appends `bytes` as a varByteArray.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends `s` as a varString.
pub fn write_var_string(out: &mut Vec<u8>, s: &str) {
    write_var_bytes(out, s.as_bytes());
}

/// How many bytes [`write_var_bytes`] writes for a payload of `len` bytes.
pub fn var_bytes_len(len: usize) -> usize {
    var_uint_len(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_uint_len_matches_writer() {
        for v in [0, 1, 127, 128, 16_383, 16_384, MAX_VAR_UINT, u64::MAX] {
            let mut out = Vec::new();
            write_var_uint(&mut out, v);
            assert_eq!(var_uint_len(v), out.len(), "v = {v}");
        }
    }

    #[test]
    fn eighth_byte_may_only_carry_four_bits() {
        // 2^53 exactly: seven continuation bytes of zero, then 0x10.
        let bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
        assert_eq!(
            Reader::new(&bytes).read_var_uint(),
            Err(DecodeError::VarUintOverflow)
        );
    }
}
