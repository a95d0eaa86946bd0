//! The blob port: where media bytes live, by key. Keys are content addresses (`blobs/ab/<sha256>`
//! for uploads, `thumbs/ab/<sha256>` for their thumbnails), so identical uploads share bytes.
//!
//! Uploads are staged in a local directory first (they must be hashed, sniffed and decoded
//! before they are known), then moved into the store.

pub mod local;

use std::{io, path::Path, pin::Pin};

use async_trait::async_trait;
use tokio::io::AsyncRead;

pub type Reader = Pin<Box<dyn AsyncRead + Send>>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A local directory for staging uploads, on the same file system as the store.
    fn staging_dir(&self) -> &Path;
    /// Moves a staged file in under `key`. If `key` exists already (the same content), the
    /// staged file is removed instead.
    async fn put_file(&self, key: &str, staged: &Path) -> io::Result<()>;
    async fn put_bytes(&self, key: &str, bytes: &[u8]) -> io::Result<()>;
    /// Reads `len` bytes from `offset`.
    async fn open(&self, key: &str, offset: u64, len: u64) -> io::Result<Reader>;
    /// Removes `key`; a missing key is not an error.
    async fn delete(&self, key: &str) -> io::Result<()>;
}

/// The key of an upload's bytes.
pub fn blob_key(sha256: &str) -> String {
    format!("blobs/{}/{sha256}", &sha256[..2.min(sha256.len())])
}

/// The key of an upload's thumbnail.
pub fn thumb_key(sha256: &str) -> String {
    format!("thumbs/{}/{sha256}", &sha256[..2.min(sha256.len())])
}
