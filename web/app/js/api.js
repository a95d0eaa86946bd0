// @ts-check
// REST client: bearer token, JSON, typed errors, uploads with progress.

/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Media} Media */

const SESSION_KEY = 'natter.session';

/** An API error: HTTP status plus the server's error code and message (status 0: network). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {number|null} [retryAfter] seconds
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** Worth retrying the same request later (network, timeout, 408, 429, 5xx). */
  get transient() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** @type {import('./types.js').StoredSession|null} */
let session = null;
try {
  session = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
} catch {
  session = null;
}

/** @type {() => void} */
let onUnauthorized = () => {};

export function getSession() {
  return session;
}

/** @param {import('./types.js').StoredSession|null} s */
export function setSession(s) {
  session = s;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}

/** Called once on any 401 of an authenticated request. @param {() => void} fn */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** @param {Response} res */
async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = `Request failed (${res.status})`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON */ }
  const ra = Number(res.headers.get('Retry-After'));
  return new ApiError(res.status, code, message, Number.isFinite(ra) && ra > 0 ? ra : null);
}

/**
 * A JSON request to the API. Resolves with the parsed body (null for 204).
 * @param {string} method
 * @param {string} path  under /api/v1, e.g. "/conversations"
 * @param {unknown} [body]
 * @param {{timeout?: number, signal?: AbortSignal, auth?: boolean}} [opts]
 * @returns {Promise<any>}
 */
export async function request(method, path, body, opts = {}) {
  const ctrl = new AbortController();
  const timeout = opts.timeout ?? 20000;
  const timer = setTimeout(() => ctrl.abort(), timeout);
  opts.signal?.addEventListener('abort', () => ctrl.abort());
  /** @type {Record<string, string>} */
  const headers = {};
  const token = session?.token;
  if (token && opts.auth !== false) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctrl.signal,
    });
  } catch (e) {
    if (opts.signal?.aborted) throw new ApiError(0, 'aborted', 'Cancelled');
    throw new ApiError(0, 'network', ctrl.signal.aborted ? 'The server did not answer in time' : 'Cannot reach the server');
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && token && opts.auth !== false && session?.token === token) onUnauthorized();
    throw err;
  }
  if (res.status === 204) return null;
  let text;
  try {
    text = await res.text();
  } catch {
    throw new ApiError(0, 'network', 'The connection to the server broke');
  }
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The server sent an unreadable answer');
  }
}

export const get = (/** @type {string} */ path, /** @type {{timeout?: number, signal?: AbortSignal}} */ opts = {}) =>
  request('GET', path, undefined, opts);

/**
 * Upload raw bytes with progress (XMLHttpRequest, for upload progress events).
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 * @returns {{promise: Promise<Media>, abort: () => void}}
 */
export function uploadMedia(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', '/api/v1/media?filename=' + encodeURIComponent(file.name || 'file'));
    xhr.setRequestHeader('Authorization', `Bearer ${session?.token ?? ''}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401) onUnauthorized();
      reject(new ApiError(xhr.status, body?.error?.code || 'http', body?.error?.message || `Upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: cannot reach the server'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Fetch an authenticated resource as a Blob. @param {string} path under /api/v1 */
export async function fetchBlob(path) {
  let res;
  try {
    res = await fetch('/api/v1' + path, { headers: { Authorization: `Bearer ${session?.token ?? ''}` } });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server');
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw await errorFrom(res);
  }
  return res.blob();
}
