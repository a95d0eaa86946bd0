// The browser tests' harness: a `natter serve` child process that can be killed with SIGKILL and
// started again on the same port and data directory; Debian's Chromium driven by playwright-core;
// per-page records of console errors and Content-Security-Policy violations (a test fails on
// any); and the steps a person takes in the web client, written against the UI contract only
// (roles, accessible names, labels and `data-testid`s; see /work/helper-common.md).
//
// Every wait is a Playwright locator or page wait that ends as soon as the page gets there: no
// fixed sleeps. Waits time out after a few seconds so that a broken client fails fast.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import { chromium } from 'playwright-core';

/** The `web/` directory. */
export const WEB_DIR = fileURLToPath(new URL('..', import.meta.url));
/** The natter binary under test: `$NATTER_BIN`, or the debug build next to `web/`. */
export const NATTER_BIN = path.resolve(WEB_DIR, process.env.NATTER_BIN ?? '../target/debug/natter');
/** Where screenshots (and failure screenshots) go. */
export const ARTIFACTS = path.resolve(
  WEB_DIR,
  process.env.NATTER_ARTIFACTS ?? '../target/browser-artifacts',
);
/** Debian's Chromium; playwright-core never downloads a browser of its own. */
export const CHROMIUM = process.env.NATTER_CHROMIUM ?? '/usr/bin/chromium';
/** How long one wait may take before the test fails. */
export const TIMEOUT = Number(process.env.NATTER_BROWSER_TIMEOUT_MS ?? 5000);
/** For the waits that span a server restart or a client's reconnect backoff. */
export const SLOW_TIMEOUT = 4 * TIMEOUT;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const PASSWORD = 'correct horse battery';

// ---------------------------------------------------------------------------------------------
// The server

/** @type {string | null} */
let serveHelp = null;
/** `natter serve --help`, to pass only the flags that this build has. */
function serveFlags() {
  serveHelp ??= spawnSync(NATTER_BIN, ['serve', '--help'], { encoding: 'utf8' }).stdout ?? '';
  return serveHelp;
}

/** A `natter serve` child process on 127.0.0.1 with a temporary data directory. */
export class Server {
  /** @type {import('node:child_process').ChildProcess | null} */
  #child = null;
  /** The last lines the server printed, for failure reports. */
  log = /** @type {string[]} */ ([]);
  /** `http://127.0.0.1:PORT`, known once started. */
  url = '';
  /** `127.0.0.1:PORT`, known once started; a restart listens here again. */
  addr = '';

  constructor() {
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'natter-browser-'));
  }

  /**
   * @param {{registration?: string, args?: string[]}} [options] the registration mode (default
   *   `open`); more flags for `natter serve`
   */
  static async start(options = {}) {
    const server = new Server();
    server.registration = options.registration ?? 'open';
    server.args = options.args ?? [];
    await server.#spawn('127.0.0.1:0');
    return server;
  }

  /** `--registration`: `open` unless a test asks for another mode. */
  registration = 'open';
  /** More flags for `natter serve` (a test's own, e.g. `--push-allow`). @type {string[]} */
  args = [];

  #record(line) {
    this.log.push(line);
    if (this.log.length > 300) this.log.splice(0, this.log.length - 300);
  }

  /** Starts the process and resolves with its URL once it prints `natter listening on`. */
  async #spawn(listen) {
    // Only the flags given here: no NATTER_* setting of the caller's environment leaks in.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('NATTER_') || k === 'NATTER_LOG'),
    );
    const args = ['serve', '--listen', listen, '--data-dir', this.dataDir, '--rate-limit', 'off'];
    // Anyone may register (the tests create several accounts) unless a test asks otherwise,
    // where the server has the setting.
    if (serveFlags().includes('--registration')) args.push('--registration', this.registration);
    args.push(...this.args);
    const child = spawn(NATTER_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    createInterface({ input: /** @type {any} */ (child.stderr) }).on('line', (l) => this.#record(l));
    const lines = createInterface({ input: /** @type {any} */ (child.stdout) });
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`natter did not say it was listening within 20 s:\n${this.tail()}`));
      }, 20_000);
      lines.on('line', (line) => {
        this.#record(line);
        const m = /natter listening on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${NATTER_BIN} (set NATTER_BIN): ${e.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`natter exited (${code ?? signal}) before listening:\n${this.tail()}`));
      });
    });
    this.url = url;
    this.addr = new URL(url).host;
  }

  /** Kills the server at once (SIGKILL: no shutdown, no goodbye frames). */
  async kill() {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.#child = null;
  }

  /** Starts the server again on the same address and data directory. */
  async restart() {
    await this.kill();
    // The port was ours a moment ago; a bind can still fail while the kernel lets it go.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#spawn(this.addr);
        return;
      } catch (e) {
        if (attempt >= 20 || !/in use/i.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Kills the server and removes its data. */
  async stop() {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  tail(n = 60) {
    return this.log.slice(-n).join('\n');
  }

  // -- REST, for the other side of a conversation where a test is about one person's screen --

  /**
   * Calls the API; returns the parsed JSON body (or null), throwing on a non-2xx status.
   * @param {string} method @param {string} apiPath @param {string | null} token @param {any} [body]
   */
  async api(method, apiPath, token, body) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}/api/v1${apiPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${apiPath}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** Registers and logs in a user through the API; returns `{token, user}`. */
  async apiUser(username, displayName = username) {
    await this.api('POST', '/users', null, {
      username,
      password: PASSWORD,
      display_name: displayName,
    });
    const s = await this.api('POST', '/sessions', null, {
      username,
      password: PASSWORD,
      device_name: 'test',
    });
    return { token: s.token, user: s.user };
  }
}

// ---------------------------------------------------------------------------------------------
// The browser and one test's world

/** @typedef {import('playwright-core').Browser} Browser */
/** @typedef {import('playwright-core').BrowserContext} BrowserContext */
/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').Locator} Locator */

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set NATTER_CHROMIUM)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** What one test has open: a server, a browser, contexts and pages, and what went wrong in them. */
export class World {
  /** @type {Server | null} */ server = null;
  /** @type {Browser | null} */ browser = null;
  /** @type {Page[]} */ pages = [];
  /** @type {BrowserContext[]} */ contexts = [];
  /** Console errors, uncaught exceptions and CSP violations, as "label: what". */
  problems = /** @type {string[]} */ ([]);
  /** Console errors matching one of these are expected (e.g. while the server is down). */
  allowed = /** @type {RegExp[]} */ ([]);

  /** @param {string} name @param {{registration?: string, args?: string[]}} [serverOptions] */
  constructor(name, serverOptions = {}) {
    this.name = name;
    this.serverOptions = serverOptions;
  }

  async start() {
    this.server = await Server.start(this.serverOptions);
    this.browser = await launchBrowser();
    return this;
  }

  /** Console errors matching `re` do not fail this test (network errors while the server is down). */
  allow(re) {
    this.allowed.push(re);
  }

  /**
   * A new browser context (one "browser" of one person).
   * @param {import('playwright-core').BrowserContextOptions} [options]
   */
  async context(options = {}) {
    const browser = /** @type {Browser} */ (this.browser);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT * 2);
    // CSP violations are reported by the page itself, not only as console messages.
    await context.exposeBinding('__natterTestCspViolation', ({ page }, what) => {
      this.problems.push(`${labelOf(page)}: CSP violation: ${what}`);
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        /** @type {any} */ (window).__natterTestCspViolation(
          `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`,
        );
      });
    });
    this.contexts.push(context);
    return context;
  }

  /**
   * A new page at the server's `/`, in `context` (a new one if not given), watched for errors.
   * @param {string} label who this page is, for messages
   * @param {{context?: BrowserContext} & import('playwright-core').BrowserContextOptions} [options]
   */
  async page(label, options = {}) {
    const { context: given, ...contextOptions } = options;
    const context = given ?? (await this.context(contextOptions));
    const page = await context.newPage();
    labels.set(page, label);
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const loc = msg.location();
      const text = `${msg.text()}${loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`;
      if (this.allowed.some((re) => re.test(text))) return;
      this.problems.push(`${label}: console error: ${text}`);
    });
    page.on('pageerror', (e) => this.problems.push(`${label}: uncaught: ${e.stack ?? e.message}`));
    this.pages.push(page);
    markRecords.set(page, recordDeliveredMarks(page));
    await page.goto(/** @type {Server} */ (this.server).url);
    return page;
  }

  /** Fails if any page logged a console error, threw, or broke the CSP. */
  assertClean() {
    assert.deepEqual(this.problems, [], 'console errors or CSP violations in the pages');
  }

  /** On failure: screenshots of every open page and the server's last lines. */
  async report(error) {
    const dir = path.join(ARTIFACTS, 'failures');
    mkdirSync(dir, { recursive: true });
    const slug = this.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    let i = 0;
    for (const page of this.pages) {
      if (page.isClosed()) continue;
      const file = path.join(dir, `${slug}-${i++}-${labelOf(page)}.png`);
      await page.screenshot({ path: file, timeout: 2000 }).catch(() => {});
    }
    const lines = [`--- ${this.name} failed: ${error?.message ?? error}`];
    if (this.problems.length) lines.push('page problems:', ...this.problems);
    if (this.server) lines.push('server log (last lines):', this.server.tail());
    lines.push(`failure screenshots in ${dir}`);
    console.log(lines.join('\n'));
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    await this.browser?.close().catch(() => {});
    await this.server?.stop();
  }
}

/** @type {WeakMap<Page, string>} */
const labels = new WeakMap();
/** @type {WeakMap<Page, string[]>} */
const markRecords = new WeakMap();

/** The `delivered` marks that a page made by `World.page` has sent so far. @param {Page} page */
export function deliveredMarks(page) {
  return markRecords.get(page) ?? [];
}
/** @param {Page} page */
function labelOf(page) {
  return labels.get(page) ?? 'page';
}

/**
 * A browser test: a fresh server and browser; fails on any console error or CSP violation;
 * on failure, writes screenshots and prints the server's log.
 * @param {string} name
 * @param {(w: World) => Promise<void>} fn
 * @param {{timeout?: number, registration?: string, serverArgs?: string[]}} [options]
 *   `registration`: the server's mode (default `open`); `serverArgs`: more flags for `natter serve`
 */
export function browserTest(name, fn, options = {}) {
  test(name, { timeout: options.timeout ?? 60_000 }, async () => {
    const w = new World(name, { registration: options.registration, args: options.serverArgs });
    try {
      await w.start();
      await fn(w);
      w.assertClean();
    } catch (e) {
      await w.report(e);
      throw e;
    } finally {
      await w.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Waiting

/** Waits until `locator` matches exactly `n` elements, then checks it. */
export async function expectCount(locator, n, timeout = TIMEOUT) {
  if (n > 0) await locator.nth(n - 1).waitFor({ state: 'attached', timeout });
  await locator.nth(n).waitFor({ state: 'detached', timeout });
  assert.equal(await locator.count(), n, `expected exactly ${n} of ${locator}`);
}

/**
 * Waits until the element of `locator` has `attr` = `value` (and is visible unless told).
 * @param {Locator} locator @param {string} attr @param {string} value
 */
export async function expectAttr(locator, attr, value, timeout = TIMEOUT) {
  const page = locator.page();
  const want = locator.and(page.locator(`[${attr}="${value}"]`));
  try {
    await want.first().waitFor({ state: 'attached', timeout });
  } catch (e) {
    const now = await locator
      .first()
      .getAttribute(attr, { timeout: 200 })
      .catch(() => '(no such element)');
    throw new Error(`${locator} never had ${attr}="${value}" (it has ${JSON.stringify(now)})`, {
      cause: e,
    });
  }
}

/** Waits until `locator`'s first element contains `text`. */
export async function expectText(locator, text, timeout = TIMEOUT) {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
  } catch (e) {
    const now = await locator
      .first()
      .textContent({ timeout: 200 })
      .catch(() => '(no such element)');
    throw new Error(`${locator} never showed ${JSON.stringify(String(text))} (it shows ${JSON.stringify(now)})`, {
      cause: e,
    });
  }
}

/** Waits until the form field of `locator` holds `value`. @param {Locator} locator @param {string} value */
export async function expectValue(locator, value, timeout = TIMEOUT) {
  const handle = await locator.elementHandle({ timeout });
  try {
    await locator
      .page()
      .waitForFunction(([el, v]) => /** @type {HTMLInputElement} */ (el).value === v, /** @type {const} */ ([handle, value]), {
        timeout,
      });
  } catch (e) {
    const now = await locator.inputValue({ timeout: 200 }).catch(() => '(no such element)');
    throw new Error(`${locator} never held ${JSON.stringify(value)} (it holds ${JSON.stringify(now)})`, { cause: e });
  } finally {
    await handle?.dispose();
  }
}

export async function expectVisible(locator, timeout = TIMEOUT) {
  await locator.waitFor({ state: 'visible', timeout });
}

export async function expectHidden(locator, timeout = TIMEOUT) {
  await locator.waitFor({ state: 'hidden', timeout });
}

/**
 * Starts counting the page's WebSocket attempts that end without ever being useful (refused or
 * closed); `.wait(n)` resolves once `n` of those counted from now have ended.
 * @param {Page} page
 */
export function watchWebSockets(page) {
  let ended = 0;
  /** @type {{n: number, resolve: () => void}[]} */
  const waiters = [];
  page.on('websocket', (ws) => {
    ws.once('close', () => {
      ended += 1;
      for (const w of waiters.filter((w) => ended >= w.n)) w.resolve();
    });
  });
  return {
    /** @param {number} n @param {number} [timeout] */
    wait(n, timeout = SLOW_TIMEOUT) {
      if (ended >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${ended} of ${n} WebSocket attempts ended in ${timeout} ms`)),
          timeout,
        );
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

/**
 * Records the `delivered` marks a page sends (WebSocket frames and REST calls), by conversation.
 * @param {Page} page
 */
function recordDeliveredMarks(page) {
  /** @type {string[]} */
  const marks = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      try {
        const frame = JSON.parse(String(f.payload));
        if (frame.type === 'delivered') marks.push(`ws ${frame.conversation_id} ${frame.up_to_seq}`);
      } catch {
        // not JSON: not a mark
      }
    }),
  );
  page.on('request', (r) => {
    if (r.method() === 'PUT' && /\/delivered$/.test(r.url())) marks.push(`rest ${r.url()}`);
  });
  return marks;
}

/** Fails if `locator` matches anything now (for controls that must not be shown at all). */
export async function expectAbsent(locator, what) {
  assert.equal(await locator.count(), 0, `${what ?? locator} should not be shown`);
}

// ---------------------------------------------------------------------------------------------
// The UI, by the contract

/** @param {string} s */
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** @param {Page | Locator} scope @param {string} name */
export function button(scope, name) {
  return scope.getByRole('button', { name, exact: true });
}

/** The sign-in screen's fields and buttons. @param {Page} page */
export function signInForm(page) {
  return {
    username: page.getByLabel('Username', { exact: true }),
    password: page.getByLabel('Password', { exact: true }),
    displayName: page.getByLabel('Display name (optional)', { exact: true }),
    invite: page.getByLabel('Invite code (to create an account)', { exact: true }),
    logIn: button(page, 'Log in'),
    createAccount: button(page, 'Create account'),
    alert: page.getByRole('alert'),
  };
}

/** @param {Page} page */
export const conversationNav = (page) => page.getByRole('navigation', { name: 'Conversations' });

/** Creates an account through the sign-in screen and waits for the app shell. */
export async function register(page, username, displayName = '', { online = true } = {}) {
  const f = signInForm(page);
  await f.username.fill(username);
  await f.password.fill(PASSWORD);
  if (displayName) await f.displayName.fill(displayName);
  await f.createAccount.click();
  await expectVisible(conversationNav(page));
  if (online) await expectAttr(page.getByTestId('connection'), 'data-state', 'online');
}

/** Logs in through the sign-in screen and waits for the app shell. */
export async function logIn(page, username) {
  const f = signInForm(page);
  await f.username.fill(username);
  await f.password.fill(PASSWORD);
  await f.logIn.click();
  await expectVisible(conversationNav(page));
}

/** The conversation list entry titled `title`. @param {Page} page @param {string} title */
export function conversationItem(page, title) {
  return conversationNav(page).getByTestId('conversation-item').filter({ hasText: title });
}

/** The clickable part of a list entry: a button or link whose name begins with the title. */
function conversationOpener(page, title) {
  const name = new RegExp(`^\\s*${escapeRe(title)}`);
  const nav = conversationNav(page);
  return nav.getByRole('button', { name }).or(nav.getByRole('link', { name })).first();
}

/** The open conversation's heading. @param {Page} page */
export const heading = (page, title) =>
  page.getByRole('main').getByRole('heading', { level: 2, name: title, exact: true });

/** Opens the conversation titled `title` from the list. */
export async function openConversation(page, title) {
  await conversationOpener(page, title).click();
  await expectVisible(heading(page, title));
}

/** Starts (or opens) a direct chat with `username`, whose display name is `title`. */
export async function startDirectChat(page, username, title) {
  await button(page, 'New chat').click();
  const dialog = page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Search users', { exact: true }).fill(username);
  await button(dialog, `Chat with ${username}`).click();
  await expectVisible(heading(page, title));
}

/** Creates a group named `name` with `usernames` through the New group dialog. */
export async function createGroup(page, name, usernames) {
  await button(page, 'New group').click();
  const dialog = page.getByRole('dialog', { name: 'New group' });
  await dialog.getByLabel('Group name', { exact: true }).fill(name);
  for (const u of usernames) {
    await dialog.getByLabel('Search users', { exact: true }).fill(u);
    await button(dialog, `Add ${u}`).click();
  }
  await button(dialog, 'Create group').click();
  await expectVisible(heading(page, name));
}

/** The open conversation's timeline. @param {Page} page */
export const timeline = (page) => page.getByRole('main').getByRole('log', { name: 'Messages' });
/** Every message in the timeline. @param {Page} page */
export const messages = (page) => timeline(page).getByTestId('message');
/** The message whose text contains `text`. @param {Page} page @param {string} text */
export const message = (page, text) =>
  messages(page).filter({ has: page.getByTestId('message-text').filter({ hasText: text }) });
/** The composer's text area. @param {Page} page */
export const composer = (page) => page.getByRole('textbox', { name: 'Message', exact: true });
/** The connection banner. @param {Page} page */
export const banner = (page) => page.getByTestId('connection');

/** Types `text` and presses Send; waits for it to show as one's own message, sent. */
export async function send(page, text) {
  await composer(page).fill(text);
  await button(page.getByRole('main'), 'Send').click();
  const mine = message(page, text);
  await expectAttr(mine, 'data-mine', 'true');
  // ... and for the server to have it (the tick leaves `pending`).
  await expectVisible(tick(mine).and(page.locator(':not([data-status="pending"])')));
  return mine;
}

/** The tick of a message. @param {Locator} msg */
export const tick = (msg) => msg.getByTestId('tick');

/** Opens a message's action menu and picks `action`. @param {Locator} msg @param {string} action */
export async function messageAction(msg, action) {
  await msg.hover();
  await button(msg, 'Message actions').click();
  const page = msg.page();
  const item = page
    .getByRole('button', { name: action, exact: true })
    .or(page.getByRole('menuitem', { name: action, exact: true }));
  await item.first().click();
}

/** The names offered in a message's action menu (the menu is closed again with Escape). */
export async function messageActions(msg) {
  await msg.hover();
  await button(msg, 'Message actions').click();
  const page = msg.page();
  const names = ['Reply', 'Edit', 'Delete for me', 'Delete for everyone', 'Message info'];
  await page
    .getByRole('button', { name: 'Reply', exact: true })
    .or(page.getByRole('menuitem', { name: 'Reply', exact: true }))
    .first()
    .waitFor();
  const shown = [];
  for (const n of names) {
    const item = page
      .getByRole('button', { name: n, exact: true })
      .or(page.getByRole('menuitem', { name: n, exact: true }));
    if (await item.first().isVisible()) shown.push(n);
  }
  await page.keyboard.press('Escape');
  return shown;
}

/**
 * Chooses a file with the `Attach file` input. An image gets a preview with `Send` / `Cancel`
 * first; this presses that Send.
 * @param {Page} page @param {{name: string, mimeType: string, buffer: Buffer}} file
 */
export async function attach(page, file, { preview = file.mimeType.startsWith('image/') } = {}) {
  await page.getByLabel('Attach file', { exact: true }).setInputFiles(file);
  if (!preview) return;
  const cancel = button(page, 'Cancel');
  await expectVisible(cancel);
  // The preview's Send: in a dialog if the preview is one, else in place of the composer's.
  const dialog = page.getByRole('dialog').filter({ has: cancel });
  const scope = (await dialog.count()) ? dialog : page.getByRole('main');
  await button(scope, 'Send').click();
  await expectHidden(cancel);
}

// ---------------------------------------------------------------------------------------------
// Test data

/**
 * A small PNG made here, so that no file is needed: stripes, or the colour `pixel(x, y)` gives.
 * @param {number} [w] @param {number} [h] @param {(x: number, y: number) => number[]} [pixel]
 */
export function makePng(w = 48, h = 32, pixel = (x) => (Math.floor(x / 8) % 2 ? [220, 60, 40] : [40, 90, 220])) {
  const row = w * 3 + 1;
  const raw = Buffer.alloc(row * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * row + 1 + x * 3);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A landscape (sky, sun, two ranges of hills) for the screenshots. @param {number} w @param {number} h */
export function makeLandscapePng(w = 480, h = 320) {
  return makePng(w, h, (x, y) => {
    const far = h * 0.55 + Math.sin(x / 37) * h * 0.08 + Math.sin(x / 11) * h * 0.02;
    const near = h * 0.72 + Math.sin(x / 53 + 2) * h * 0.07;
    if (y > near) return [46 + (y - near) / 3, 125 - (y - near) / 4, 50];
    if (y > far) return [78, 110 + (y - far) / 4, 92];
    const dx = x - w * 0.72;
    const dy = y - h * 0.25;
    if (dx * dx + dy * dy < (h * 0.09) ** 2) return [255, 214, 102];
    return [120 + (y / h) * 100, 170 + (y / h) * 60, 235];
  });
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Resolves once `img` has loaded a picture with real pixels. @param {Locator} img */
export async function expectImageLoaded(img, timeout = TIMEOUT) {
  await expectVisible(img, timeout);
  const handle = await img.elementHandle({ timeout });
  await img
    .page()
    .waitForFunction((el) => el instanceof HTMLImageElement && el.complete && el.naturalWidth > 0, handle, {
      timeout,
    });
  await handle?.dispose();
}

/** Writes a screenshot artifact. @param {Page} page @param {string} name */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

/** axe-core's source, to run in a page. */
export function axeSource() {
  return readFileSync(path.join(WEB_DIR, 'node_modules/axe-core/axe.min.js'), 'utf8');
}

