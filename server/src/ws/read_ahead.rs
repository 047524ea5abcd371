//! Large socket reads without a large buffer kept per connection.
//!
//! Tungstenite reads at most `read_buffer_size` bytes per call into a buffer of
//! that size that it keeps for the life of the connection (allocated up front,
//! zero-filled on the first read). A 4 KiB buffer is most of what an idle
//! connection costs; a small one alone turns a large frame into a system call per
//! few hundred bytes (a 1 MB frame read 512 bytes at a time costs four times the
//! CPU). [`ReadAhead`] separates the two: each socket read takes up to
//! [`READ_AHEAD_BYTES`] into a stack buffer, hands the caller what fits, and keeps
//! the rest in a heap buffer of exactly that size, freed as soon as it is consumed.
//! An idle connection holds nothing here; reads the caller can take whole (hyper's
//! HTTP buffer) go straight to the socket.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes taken from the socket per read: on the worker's stack, never kept.
const READ_AHEAD_BYTES: usize = 16 * 1024;

/// Reads into a caller buffer with at least this much room go straight to the socket.
const DIRECT_READ_BYTES: usize = 4 * 1024;

/// A stream that reads ahead of small reads (see the module docs). Writes pass
/// through.
#[derive(Debug)]
pub(crate) struct ReadAhead<IO> {
    io: IO,
    /// Bytes read from the socket that the caller has not taken yet, from `pos`.
    /// Empty (no allocation) whenever everything read was handed out.
    pending: Box<[u8]>,
    pos: usize,
}

impl<IO> ReadAhead<IO> {
    pub(crate) fn new(io: IO) -> Self {
        ReadAhead {
            io,
            pending: Box::default(),
            pos: 0,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ReadAhead<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.pos < this.pending.len() {
            let n = buf.remaining().min(this.pending.len() - this.pos);
            buf.put_slice(&this.pending[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.pending.len() {
                this.pending = Box::default();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= DIRECT_READ_BYTES {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_AHEAD_BYTES];
        let mut ahead = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut this.io).poll_read(cx, &mut ahead))?;
        let got = ahead.filled();
        let n = buf.remaining().min(got.len());
        buf.put_slice(&got[..n]);
        if n < got.len() {
            this.pending = Box::from(&got[n..]);
            this.pos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ReadAhead<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A listener whose connections read ahead (accept errors are handled by `L`).
#[derive(Debug)]
pub(crate) struct ReadAheadListener<L>(pub L);

impl<L: Listener> Listener for ReadAheadListener<L> {
    type Io = ReadAhead<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (ReadAhead::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads everything `input` carries through `ReadAhead`, `chunk` bytes at a time.
    async fn read_all_in_chunks(input: Vec<u8>, chunk: usize) -> (Vec<u8>, usize) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            client.write_all(&input).await.expect("write");
            client.shutdown().await.expect("shutdown");
        });
        let mut r = ReadAhead::new(server);
        let mut out = Vec::new();
        let mut most_pending = 0;
        let mut buf = vec![0u8; chunk];
        loop {
            let n = r.read(&mut buf).await.expect("read");
            most_pending = most_pending.max(r.pending.len());
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        writer.await.expect("writer");
        assert!(r.pending.is_empty(), "nothing kept once all is read");
        (out, most_pending)
    }

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order() {
        let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 7, 256, 4095, 4096, 20_000] {
            let (out, most_pending) = read_all_in_chunks(input.clone(), chunk).await;
            assert_eq!(out, input, "chunk {chunk}");
            if chunk < DIRECT_READ_BYTES {
                assert!(most_pending > 0, "small reads read ahead (chunk {chunk})");
            } else {
                assert_eq!(most_pending, 0, "large reads go direct (chunk {chunk})");
            }
        }
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut w = ReadAhead::new(client);
        w.write_all(b"hello").await.expect("write");
        w.flush().await.expect("flush");
        let mut got = [0u8; 5];
        server.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello");
    }
}
