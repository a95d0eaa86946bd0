-- Summing a user's uploads (its media quota) without scanning every upload.
CREATE INDEX media_by_uploader ON media(uploader_id);
