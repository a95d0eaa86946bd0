//! Request heads that hyper refuses itself. A head that does not fit hyper's read buffer is
//! answered by hyper, before any middleware runs, with `431` (or `414` for a request line over
//! 64 KiB) and an empty body; the contract wants every error to carry the JSON body.
//! [`HeadRefusals`] wraps a connection's socket: when hyper writes one of those bare answers,
//! the same status goes out with the `invalid_request` body instead. The connection then reads
//! and discards what the client is still sending before it closes: closing a socket with
//! unread bytes resets it, and a reset can destroy the answer before the client reads it.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// At most this much of the rest of a refused head is read and discarded, for at most this
/// long, before the connection is closed anyway.
const DRAIN_MAX_BYTES: usize = 1 << 20;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(2);

pub struct HeadRefusals<IO> {
    io: IO,
    /// hyper refuses a head as too large only after reading a whole buffer of it, with no
    /// answer written meanwhile; a write that merely looks like a bare refusal (a chunk of a
    /// download, say) is never taken for one unless that much was read since the last write.
    min_head: usize,
    read_since_write: usize,
    /// The answer that replaces hyper's bare one, and how much of it is sent.
    answer: Vec<u8>,
    sent: usize,
    /// Once an answer is replaced: the rest of the head to discard before closing.
    drain: Option<Drain>,
}

struct Drain {
    left: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<IO> HeadRefusals<IO> {
    /// `min_head` is hyper's `max_buf_size` for the connection.
    pub fn new(io: IO, min_head: usize) -> Self {
        Self {
            io,
            min_head,
            read_since_write: 0,
            answer: Vec::new(),
            sent: 0,
            drain: None,
        }
    }
}

/// The answer to send instead of `written`, if `written` is hyper's bare refusal of a head:
/// one whole response head, `414` or `431`, with `content-length: 0`.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(written).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let message = match status_line.strip_prefix("HTTP/1.1 ")?.get(..4)? {
        "414 " => "the request line is too long",
        "431 " => "the request head (line and headers) is too large",
        _ => return None,
    };
    let mut kept = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        if name.eq_ignore_ascii_case("content-length") {
            empty_body = value == "0";
        } else {
            kept.push(line);
        }
    }
    if !empty_body {
        return None;
    }
    let body = serde_json::to_vec(&natter_wire::ErrorBody {
        error: natter_wire::ErrorDetail {
            code: "invalid_request".into(),
            message: message.into(),
        },
    })
    .ok()?;
    let mut out = format!("{status_line}\r\n");
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    // The headers every other answer gets from the router's layers, which never saw this one.
    out.push_str(
        "content-type: application/json\r\nx-content-type-options: nosniff\r\n\
         referrer-policy: no-referrer\r\nx-frame-options: DENY\r\n",
    );
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<IO: AsyncRead + AsyncWrite + Unpin> HeadRefusals<IO> {
    /// Sends what is left of a replaced answer.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.answer.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.answer[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `written` as hyper's bare refusal if it is one; then the answer replaces it.
    fn replace(&mut self, written: &[u8]) -> bool {
        if self.read_since_write < self.min_head || self.drain.is_some() {
            return false;
        }
        let Some(answer) = replacement(written) else {
            return false;
        };
        self.answer = answer;
        self.sent = 0;
        self.drain = Some(Drain {
            left: DRAIN_MAX_BYTES,
            deadline: Box::pin(tokio::time::sleep(DRAIN_MAX_TIME)),
        });
        true
    }

    /// Reads and discards until the client is done sending, or the drain's bounds are hit.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(drain) = self.drain.as_mut() else {
            return Poll::Ready(());
        };
        let mut scratch = [0u8; 8192];
        while drain.left > 0 {
            if drain.deadline.as_mut().poll(cx).is_ready() {
                break;
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    drain.left = drain.left.saturating_sub(buf.filled().len());
                }
                // The end of the stream, or an error: nothing more to wait for.
                Poll::Ready(_) => break,
            }
        }
        Poll::Ready(())
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadRefusals<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.read_since_write = self.read_since_write.saturating_add(read);
        polled
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadRefusals<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_answer(cx))?;
        if this.replace(buf) {
            // Sent by the next write, flush or shutdown if the socket is full now.
            let _ = this.poll_answer(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        this.read_since_write = 0;
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_answer(cx))?;
        // hyper's bare refusal is one buffer: a head and no body.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next())
            && this.replace(only)
        {
            let _ = this.poll_answer(cx)?;
            return Poll::Ready(Ok(only.len()));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        this.read_since_write = 0;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_answer(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_answer(cx))?;
        ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
        ready!(this.poll_drain(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_431_gets_the_json_body_and_keeps_its_headers() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(bare).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\nconnection: close\r\n"));
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(!head.contains("content-length: 0"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "invalid_request");
    }

    #[test]
    fn only_bare_414_and_431_heads_are_replaced() {
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"\x81\x05hello",
        ] {
            assert!(replacement(other).is_none(), "{other:?}");
        }
        assert!(replacement(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").is_some());
    }
}
