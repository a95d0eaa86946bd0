//! Media on the local disk, under one directory.

use std::{
    io::{self, SeekFrom},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobStore, Reader};

pub struct LocalBlobs {
    root: PathBuf,
    staging: PathBuf,
}

impl LocalBlobs {
    /// Opens (creating) the directory; leftovers of interrupted uploads are removed.
    pub fn open(root: &Path) -> io::Result<Self> {
        let staging = root.join("staging");
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        Ok(Self {
            root: root.to_owned(),
            staging,
        })
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        // Keys are made by this program, but a key that could escape the root is refused.
        if key.is_empty()
            || key
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    fn staging_dir(&self) -> &Path {
        &self.staging
    }

    async fn put_file(&self, key: &str, staged: &Path) -> io::Result<()> {
        let path = self.path(key)?;
        if tokio::fs::try_exists(&path).await? {
            return tokio::fs::remove_file(staged).await;
        }
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(staged, &path).await
    }

    async fn put_bytes(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // Written aside and renamed, so that a reader never sees half a file.
        let tmp = self.staging.join(format!("{}.part", uuid::Uuid::now_v7()));
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, &path).await
    }

    async fn open(&self, key: &str, offset: u64, len: u64) -> io::Result<Reader> {
        let mut f = tokio::fs::File::open(self.path(key)?).await?;
        f.seek(SeekFrom::Start(offset)).await?;
        Ok(Box::pin(f.take(len)))
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}
