//! Media: uploads streamed to disk, typed by their bytes, images measured and thumbnailed on
//! the blocking pool, and bytes erased once nothing refers to them.

use std::{
    io::{BufReader, Cursor},
    path::{Path, PathBuf},
};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, metadata::Orientation};
use natter_core::{Error as Rule, MediaId, time};
use natter_wire as wire;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{App, Caller, new_id, render};
use crate::{
    blob::{Reader, blob_key, thumb_key},
    error::{AppError, AppResult},
    store::MediaRow,
};

/// The longest side of a thumbnail.
const THUMB_SIDE: u32 = 320;
/// Bytes kept from the start of an upload to tell its type.
const HEAD: usize = 8192;
/// The longest filename kept, in characters.
const FILENAME_MAX: usize = 255;

/// What decoding an upload that looks like an image found.
enum Probe {
    Image {
        width: u32,
        height: u32,
        thumb: Vec<u8>,
        thumb_type: &'static str,
    },
    /// More pixels than allowed: refused without decoding.
    TooManyPixels { width: u32, height: u32 },
    /// Not decodable: stored as a plain file.
    Corrupt,
}

/// Removes a staged file unless it was moved into the store.
struct Staged {
    path: PathBuf,
    keep: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn image_type(format: ImageFormat) -> Option<&'static str> {
    Some(match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        _ => return None,
    })
}

/// Keeps what a person typed, less control characters; at most 255 characters.
fn clean_filename(name: Option<&str>) -> AppResult<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    let cleaned: String = name.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.chars().count() > FILENAME_MAX {
        return Err(AppError::invalid(format!(
            "filename must be at most {FILENAME_MAX} characters"
        )));
    }
    Ok((!cleaned.is_empty()).then(|| cleaned.to_owned()))
}

/// Refuses an upload of `size` bytes that would take a user with `used` bytes stored past its
/// `quota`.
fn check_quota(quota: u64, used: u64, size: u64) -> AppResult<()> {
    if used.checked_add(size).is_some_and(|total| total <= quota) {
        return Ok(());
    }
    Err(AppError::Rule(Rule::TooLarge(format!(
        "this upload of {size} bytes would take your media past your quota of {quota} bytes \
         ({used} bytes already used)"
    ))))
}

/// Measures and thumbnails an image, respecting its EXIF orientation. Blocking.
fn probe_image(path: &Path, format: ImageFormat, max_pixels: u64) -> Probe {
    let open = || std::fs::File::open(path).map(BufReader::new);
    let Ok(file) = open() else {
        return Probe::Corrupt;
    };
    let Ok((width, height)) = ImageReader::with_format(file, format).into_dimensions() else {
        return Probe::Corrupt;
    };
    if u64::from(width) * u64::from(height) > max_pixels {
        return Probe::TooManyPixels { width, height };
    }
    let decoded = (|| -> image::ImageResult<DynamicImage> {
        let file = open()?;
        let mut reader = ImageReader::with_format(file, format);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(width);
        limits.max_image_height = Some(height);
        // Decoded RGBA at 16 bits a channel, the most any of these formats needs, plus slack.
        limits.max_alloc = Some(max_pixels.saturating_mul(8) + (64 << 20));
        reader.limits(limits);
        let mut decoder = reader.into_decoder()?;
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let mut img = DynamicImage::from_decoder(decoder)?;
        img.apply_orientation(orientation);
        Ok(img)
    })();
    let Ok(img) = decoded else {
        return Probe::Corrupt;
    };
    let (width, height) = (img.width(), img.height());
    let small = if width.max(height) > THUMB_SIDE {
        img.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        img
    };
    let mut out = Cursor::new(Vec::new());
    let (written, thumb_type) = if small.color().has_alpha() {
        (small.write_to(&mut out, ImageFormat::Png), "image/png")
    } else {
        (
            DynamicImage::ImageRgb8(small.to_rgb8()).write_to(&mut out, ImageFormat::Jpeg),
            "image/jpeg",
        )
    };
    if written.is_err() {
        return Probe::Corrupt;
    }
    Probe::Image {
        width,
        height,
        thumb: out.into_inner(),
        thumb_type,
    }
}

impl App {
    /// `POST /media?filename=`: streams `body` to disk, never holding it whole in memory.
    pub async fn upload<S, E>(
        &self,
        caller: &Caller,
        filename: Option<&str>,
        declared_len: Option<u64>,
        mut body: S,
    ) -> AppResult<wire::Media>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let max = self.limits().upload_max_bytes as u64;
        let too_large = || {
            AppError::Rule(Rule::TooLarge(format!(
                "uploads are limited to {max} bytes"
            )))
        };
        if declared_len.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        // Checked before the bytes are read, so that a client past its quota sends nothing
        // in vain, and again under the media lock, where it is decisive.
        let quota = self.config().media_quota;
        let used = match quota {
            Some(_) => self.media_used(caller).await?,
            None => 0,
        };
        if let (Some(q), Some(n)) = (quota, declared_len) {
            check_quota(q, used, n)?;
        }
        let filename = clean_filename(filename)?;
        let internal = |e: std::io::Error| AppError::io("staging an upload", e);
        let mut staged = Staged {
            path: self
                .blobs()
                .staging_dir()
                .join(format!("{}.part", new_id())),
            keep: false,
        };
        let mut file = tokio::fs::File::create(&staged.path)
            .await
            .map_err(internal)?;
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(HEAD);
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|e| AppError::invalid(format!("the upload was cut off: {e}")))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large());
            }
            if let Some(q) = quota {
                check_quota(q, used, size)?;
            }
            if head.len() < HEAD {
                let take = (HEAD - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(internal)?;
        }
        if size == 0 {
            return Err(AppError::invalid("the upload is empty"));
        }
        file.sync_all().await.map_err(internal)?;
        drop(file);
        let sha256 = hex::encode(hasher.finalize());

        let image = image::guess_format(&head)
            .ok()
            .and_then(|f| image_type(f).map(|t| (f, t)));
        let mut content_type = infer::get(&head)
            .map(|t| t.mime_type())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let (mut width, mut height, mut thumb, mut is_image) = (None, None, None, false);
        if let Some((format, mime)) = image {
            let path = staged.path.clone();
            let max_pixels = self.config().max_image_pixels;
            // A decoder that panics on hostile bytes makes the upload a plain file.
            let probe = self
                .inner
                .images
                .run(move || probe_image(&path, format, max_pixels))
                .await
                .unwrap_or(Probe::Corrupt);
            match probe {
                Probe::Image {
                    width: w,
                    height: h,
                    thumb: t,
                    thumb_type,
                } => {
                    content_type = mime.to_owned();
                    width = Some(i64::from(w));
                    height = Some(i64::from(h));
                    thumb = Some((t, thumb_type));
                    is_image = true;
                }
                Probe::TooManyPixels { width, height } => {
                    return Err(AppError::Rule(Rule::TooLarge(format!(
                        "the image is {width}×{height} pixels; at most {} pixels are accepted",
                        self.config().max_image_pixels
                    ))));
                }
                Probe::Corrupt => content_type = "application/octet-stream".to_owned(),
            }
        }

        let row = MediaRow {
            id: new_id(),
            uploader_id: caller.user_id.clone(),
            content_type,
            size: size as i64,
            filename,
            width,
            height,
            has_thumbnail: thumb.is_some(),
            thumbnail_type: thumb.as_ref().map(|(_, t)| (*t).to_owned()),
            sha256: sha256.clone(),
            is_image,
            created_at: time::now(),
        };
        // Under the media lock, so that collecting unused bytes cannot race a new upload of
        // the same bytes.
        let _guard = self.inner.media_lock.lock().await;
        if let Some(q) = quota {
            // Uploads are stored under this lock, so no other upload can slip in between.
            check_quota(q, self.media_used(caller).await?, size)?;
        }
        let io = |e: std::io::Error| AppError::io("storing an upload", e);
        self.blobs()
            .put_file(&blob_key(&sha256), &staged.path)
            .await
            .map_err(io)?;
        staged.keep = true;
        if let Some((bytes, _)) = &thumb {
            self.blobs()
                .put_bytes(&thumb_key(&sha256), bytes)
                .await
                .map_err(io)?;
        }
        self.store().insert_media(&row).await?;
        Ok(render::media(&row))
    }

    /// The bytes of the caller's uploads still stored.
    async fn media_used(&self, caller: &Caller) -> AppResult<u64> {
        let used = self.store().media_bytes_of(caller.user_id()).await?;
        Ok(u64::try_from(used).unwrap_or(0))
    }

    /// The record of media the caller may fetch; `404` for everyone else.
    pub async fn media_for(&self, caller: &Caller, id: &str) -> AppResult<MediaRow> {
        let row = self
            .store()
            .media(MediaId::new(id))
            .await?
            .ok_or_else(|| AppError::not_found("media"))?;
        if !self
            .store()
            .media_visible_to(MediaId::new(id), caller.user_id())
            .await?
        {
            return Err(AppError::not_found("media"));
        }
        Ok(row)
    }

    /// Reads `len` bytes of the media (or of its thumbnail) from `offset`.
    pub async fn media_bytes(
        &self,
        m: &MediaRow,
        thumbnail: bool,
        offset: u64,
        len: u64,
    ) -> AppResult<Reader> {
        let key = if thumbnail {
            thumb_key(&m.sha256)
        } else {
            blob_key(&m.sha256)
        };
        self.blobs()
            .open(&key, offset, len)
            .await
            .map_err(|e| AppError::Internal(format!("reading media: {e}")))
    }

    /// The size of the thumbnail's bytes.
    pub async fn thumbnail_len(&self, m: &MediaRow) -> AppResult<u64> {
        let mut r = self.media_bytes(m, true, 0, u64::MAX).await?;
        tokio::io::copy(&mut r, &mut tokio::io::sink())
            .await
            .map_err(|e| AppError::Internal(format!("reading a thumbnail: {e}")))
    }

    /// Deletes media that nothing refers to any more, and its bytes if no other upload shares
    /// them.
    pub(crate) async fn collect_media(&self, id: &str) -> AppResult<()> {
        let _guard = self.inner.media_lock.lock().await;
        if let Some(sha) = self
            .store()
            .delete_media_if_unused(MediaId::new(id))
            .await?
        {
            let io = |e: std::io::Error| AppError::Internal(format!("erasing media: {e}"));
            self.blobs().delete(&blob_key(&sha)).await.map_err(io)?;
            self.blobs().delete(&thumb_key(&sha)).await.map_err(io)?;
            self.erased();
        }
        Ok(())
    }

    /// Collects uploads never attached to a message (or no longer), once old enough.
    pub async fn collect_orphan_media(&self) -> AppResult<usize> {
        let age = i64::try_from(self.config().media_orphan_age.as_millis()).unwrap_or(i64::MAX);
        let before = time::now().saturating_sub(age);
        let mut n = 0;
        loop {
            let ids = self.store().orphan_media(before, 100).await?;
            for id in &ids {
                self.collect_media(id).await?;
            }
            n += ids.len();
            if ids.len() < 100 {
                return Ok(n);
            }
        }
    }

    pub(super) fn spawn_media_gc(&self) {
        let app = self.clone();
        let mut stop = self.inner.stop.subscribe();
        let every = self
            .config()
            .media_gc_interval
            .max(std::time::Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = app.collect_orphan_media().await {
                    tracing::warn!(error = %e, "collecting unused media failed");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_admits_an_upload_that_reaches_it_and_refuses_one_past_it() {
        assert!(check_quota(1000, 600, 400).is_ok());
        assert!(check_quota(1000, 600, 401).is_err());
        assert!(check_quota(1000, 1000, 0).is_ok());
        assert!(check_quota(u64::MAX, u64::MAX, 1).is_err());
    }

    #[test]
    fn filenames_keep_what_people_type_less_control_characters() {
        assert_eq!(
            clean_filename(Some("a \"quoted\" /slashed\\ 😀.pdf"))
                .unwrap()
                .as_deref(),
            Some("a \"quoted\" /slashed\\ 😀.pdf")
        );
        assert_eq!(
            clean_filename(Some("x\r\ny\0.txt")).unwrap().as_deref(),
            Some("xy.txt")
        );
        assert_eq!(clean_filename(Some("  ")).unwrap(), None);
        assert!(clean_filename(Some(&"é".repeat(255))).is_ok());
        assert!(clean_filename(Some(&"é".repeat(256))).is_err());
    }
}
