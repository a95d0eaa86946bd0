// @ts-check
// Authenticated media: fetched with the bearer header into cached blob URLs.

import { fetchBlob } from './api.js';
import { useEffect, useState } from '../vendor/preact-htm.js';

/** @type {Map<string, Promise<string>>} */
const cache = new Map();
/** @type {string[]} */
const urls = [];

/** A blob URL for an API path (cached). @param {string} path */
export function blobUrl(path) {
  let p = cache.get(path);
  if (!p) {
    p = fetchBlob(path).then((b) => {
      const u = URL.createObjectURL(b);
      urls.push(u);
      return u;
    });
    p.catch(() => cache.delete(path));
    cache.set(path, p);
  }
  return p;
}

/** Revoke every blob URL (logout). */
export function revokeAll() {
  urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  cache.clear();
}

/** @param {import('./types.js').Media} m */
export function thumbPath(m) {
  return `/media/${encodeURIComponent(m.id)}${m.has_thumbnail ? '/thumbnail' : ''}`;
}

/** @param {import('./types.js').Media} m */
export function fullPath(m) {
  return `/media/${encodeURIComponent(m.id)}`;
}

/**
 * Hook: the blob URL of a path once loaded; `failed` on error. Thumbnails are cached for the
 * session; with `cache` false (full images) the URL is revoked on unmount.
 * @param {string|null} path @param {boolean} [cache]
 */
export function useBlobUrl(path, cache = true) {
  const [url, setUrl] = useState(/** @type {string|null} */ (null));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!path) return;
    let live = true;
    /** @type {string|null} */
    let own = null;
    setUrl(null);
    setFailed(false);
    const p = cache ? blobUrl(path) : fetchBlob(path).then((b) => (own = URL.createObjectURL(b)));
    p.then((u) => { if (live) setUrl(u); }, () => { if (live) setFailed(true); });
    return () => {
      live = false;
      if (own) URL.revokeObjectURL(own);
      else if (!cache) p.then((u) => URL.revokeObjectURL(u), () => {});
    };
  }, [path]);
  return { url, failed };
}

/** Download a media file through a temporary <a download>. @param {import('./types.js').Media} m */
export async function download(m) {
  const blob = await fetchBlob(fullPath(m));
  const u = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = u;
  a.download = m.filename || 'download';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(u), 10000);
}
