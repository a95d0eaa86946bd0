// Notifications: Web Push end to end, with the push service played by this test. Headless
// Chromium has no push service, so the test makes the "browser's" subscription itself (an ECDH
// key pair and an auth secret), registers it with the user's token, and runs a small HTTP server
// that the natter server is allowed to push to (`--push-allow`). That stand-in checks each push
// request (aes128gcm, TTL, Urgency, Topic, a VAPID JWT signed with the server's key for its own
// origin) and decrypts the body as RFC 8291 says. The decrypted payload is then handed to the
// page's service worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`),
// with the app's tab closed, and the notification it shows is read back with
// `registration.getNotifications()`. A click on it (replayed through the service worker, which
// runs the same handling) opens the conversation in the app's window. Previews follow the
// setting made in the panel; a conversation muted from its header pushes nothing.
// The panel itself: headless Chromium refuses the push subscription, and the switch says so.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createServer } from 'node:http';
import { after } from 'node:test';

import {
  SLOW_TIMEOUT,
  TIMEOUT,
  axeSource,
  browserTest,
  button,
  conversationItem,
  expectHidden,
  expectText,
  expectVisible,
  heading,
  openConversation,
  register,
  screenshot,
  startDirectChat,
} from './harness.mjs';

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').BrowserContext} BrowserContext */
/** @typedef {import('./harness.mjs').World} World */
/** @typedef {import('./harness.mjs').Server} Server */

const b64url = (/** @type {Buffer} */ b) => b.toString('base64url');
const unb64url = (/** @type {string} */ s) => Buffer.from(s, 'base64url');

// ---------------------------------------------------------------------------------------------
// The push service's stand-in

/**
 * @typedef {Object} Push
 * @property {string} subscription  the id in the endpoint's path
 * @property {Record<string, string|string[]|undefined>} headers
 * @property {any} payload  the decrypted JSON
 * @property {string} text  the decrypted text
 */

/** A subscription as a browser holds it: the private half stays here. */
class StandInSubscription {
  /** @param {string} id @param {string} origin */
  constructor(id, origin) {
    this.id = id;
    this.ecdh = crypto.createECDH('prime256v1');
    this.publicKey = this.ecdh.generateKeys(); // 65 bytes, uncompressed
    this.auth = crypto.randomBytes(16);
    this.endpoint = `${origin}/push/${id}`;
  }

  /** What `PushSubscription.toJSON()` gives. */
  toJSON() {
    return { endpoint: this.endpoint, keys: { p256dh: b64url(this.publicKey), auth: b64url(this.auth) } };
  }

  /** RFC 8291 §3.4 and RFC 8188: one aes128gcm record. @param {Buffer} body */
  decrypt(body) {
    const salt = body.subarray(0, 16);
    const rs = body.readUInt32BE(16);
    const idlen = body[20];
    const asPublic = body.subarray(21, 21 + idlen);
    assert.equal(idlen, 65, 'the key id is the server’s 65-byte ECDH public key');
    assert.ok(rs >= 18, `record size ${rs}`);
    const ciphertext = body.subarray(21 + idlen);
    assert.ok(ciphertext.length <= rs, 'a single record');
    const ecdhSecret = this.ecdh.computeSecret(asPublic);
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.publicKey, asPublic]);
    const ikm = Buffer.from(crypto.hkdfSync('sha256', ecdhSecret, this.auth, keyInfo, 32));
    const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
    // The last record ends with the delimiter 0x02, then zero or more 0x00 of padding.
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    assert.equal(padded[end], 2, 'the padding delimiter of the last record is 0x02');
    return padded.subarray(0, end).toString('utf8');
  }
}

/** A push service on 127.0.0.1 that checks and decrypts what it is sent. */
class PushStandIn {
  /** @type {Push[]} */ pushes = [];
  /** What was wrong with a request (each answered 400). @type {string[]} */ problems = [];
  /** @type {Map<string, StandInSubscription>} */ subscriptions = new Map();
  /** The server's VAPID key (base64url), once the test knows it. */ vapidKey = '';
  /** @type {(() => void)[]} */ #waiters = [];
  origin = '';

  constructor() {
    this.http = createServer((req, res) => {
      /** @type {Buffer[]} */
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          const push = this.#check(req, Buffer.concat(chunks));
          this.pushes.push(push);
          res.writeHead(201, { location: `${this.origin}/message/${this.pushes.length}` }).end();
        } catch (e) {
          this.problems.push(`${req.method} ${req.url}: ${e instanceof Error ? e.message : e}`);
          res.writeHead(400).end();
        }
        this.#waiters.forEach((w) => w());
      });
    });
  }

  async start() {
    await new Promise((resolve) => this.http.listen(0, '127.0.0.1', () => resolve(undefined)));
    const addr = /** @type {import('node:net').AddressInfo} */ (this.http.address());
    this.origin = `http://127.0.0.1:${addr.port}`;
    return this;
  }

  stop() {
    this.http.closeAllConnections();
    this.http.close();
  }

  /** A new subscription whose pushes come here. @param {string} id */
  subscribe(id) {
    const s = new StandInSubscription(id, this.origin);
    this.subscriptions.set(id, s);
    return s;
  }

  /**
   * Checks one push request as a push service would, and decrypts it.
   * @param {import('node:http').IncomingMessage} req @param {Buffer} body @returns {Push}
   */
  #check(req, body) {
    assert.equal(req.method, 'POST');
    const m = /^\/push\/([^/?]+)$/.exec(req.url ?? '');
    const sub = m && this.subscriptions.get(m[1]);
    assert.ok(sub, `no subscription at ${req.url}`);
    const h = req.headers;
    assert.equal(h['content-encoding'], 'aes128gcm');
    assert.match(String(h.ttl), /^\d+$/, 'a TTL');
    // Authorization: vapid t=<JWT>, k=<the server's public key>
    const auth = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(h.authorization ?? ''));
    assert.ok(auth, `Authorization: ${h.authorization}`);
    const [, jwt, k] = auth;
    assert.equal(k, this.vapidKey, 'k is the key of GET /push/vapid');
    const [head, claims, sig] = jwt.split('.');
    assert.deepEqual(JSON.parse(unb64url(head).toString()).alg, 'ES256');
    const point = unb64url(k);
    assert.equal(point.length, 65);
    const key = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
      format: 'jwk',
    });
    assert.ok(
      crypto.verify('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, unb64url(sig)),
      'the JWT is signed with the VAPID key',
    );
    const c = JSON.parse(unb64url(claims).toString());
    assert.equal(c.aud, this.origin, 'aud is the push service’s origin');
    const now = Date.now() / 1000;
    assert.ok(c.exp > now && c.exp <= now + 24 * 3600 + 60, `exp ${c.exp} is in the next 24 hours`);
    const text = sub.decrypt(body);
    return { subscription: sub.id, headers: h, text, payload: JSON.parse(text) };
  }

  /** Resolves once `n` pushes have arrived in all (fails on a refused one). @param {number} n */
  async waitFor(n, timeout = SLOW_TIMEOUT) {
    const deadline = Date.now() + timeout;
    while (this.pushes.length < n) {
      assert.deepEqual(this.problems, [], 'push requests the stand-in refused');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.pushes.length} of ${n} pushes arrived in ${timeout} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(t); resolve(undefined); });
      });
      this.#waiters = [];
    }
    assert.deepEqual(this.problems, [], 'push requests the stand-in refused');
    return this.pushes[n - 1];
  }
}

const pushService = await new PushStandIn().start();
after(() => pushService.stop());
const PUSH_ARGS = ['--push-allow', `${pushService.origin}/`];

// ---------------------------------------------------------------------------------------------
// Helpers

/** Polls `fn` until it returns a truthy value (for server state only the API shows). */
async function until(what, fn, timeout = SLOW_TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The signed-in session a page keeps. @param {Page} page */
async function storedSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('natter.session') ?? 'null'));
}

/** Opens Account → Notifications; returns the dialog. @param {Page} page */
async function openNotificationSettings(page) {
  await button(page, 'Account').click();
  const account = page.getByRole('dialog', { name: 'Account' });
  await button(account, 'Notifications').click();
  const dialog = page.getByRole('dialog', { name: 'Notifications' });
  await expectVisible(dialog.getByTestId('notification-settings'));
  return dialog;
}

/** Closes the Notifications and Account dialogs. @param {Page} page */
async function closeSettings(page) {
  await button(page.getByRole('dialog', { name: 'Notifications' }), 'Close').click();
  await button(page.getByRole('dialog', { name: 'Account' }), 'Close').click();
  await expectHidden(page.getByRole('dialog'));
}

/** @param {import('playwright-core').Locator} scope @param {string} name */
const toggle = (scope, name) => scope.getByRole('switch', { name, exact: true });

/** Waits until a switch is on (or off). @param {import('playwright-core').Locator} locator @param {boolean} on */
async function expectChecked(locator, on) {
  const handle = await locator.elementHandle();
  await locator.page().waitForFunction(
    ([el, on]) => /** @type {HTMLInputElement} */ (el).checked === on,
    /** @type {const} */ ([handle, on]),
    { timeout: TIMEOUT },
  );
  await handle?.dispose();
}

/** Runs axe-core in the page; fails on serious or critical violations (as look.test.mjs). */
async function axeCheck(/** @type {Page} */ page, /** @type {string} */ where) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource());
  const violations = await page.evaluate(async () => {
    const axe = /** @type {any} */ (window).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((/** @type {any} */ v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((/** @type {any} */ n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  const bad = violations.filter((/** @type {any} */ v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe-core: serious or critical violations on ${where}`);
}

/**
 * One person's browser with notifications allowed, a DevTools session on a blank page (it
 * outlives the app's tabs) that follows the service workers, and a page of the origin that is
 * not the app (the service worker shows pushes while no window of the app is visible), to read
 * the notifications shown.
 * @param {World} w @param {Server} server
 */
async function pushBrowser(w, server) {
  const context = await w.context();
  await context.grantPermissions(['notifications'], { origin: server.url });
  const blank = await context.newPage();
  const cdp = await context.newCDPSession(blank);
  /** @type {Map<string, string>} scope → registration id */
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
    for (const r of e.registrations) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  /** @type {Page|null} */
  let reader = null;
  return {
    context,
    /** The registration id of the app's service worker (scope `/`), once it registered. */
    registrationId: () => until('the service worker registered', () => registrations.get(`${server.url}/`)),
    /** Hands a push's decrypted payload to the service worker, as the browser would. @param {string} data */
    async deliver(data) {
      const registrationId = await this.registrationId();
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: server.url, registrationId, data });
    },
    /** A page of the origin that is not the app (a licence file). */
    async reader() {
      if (!reader) {
        reader = await context.newPage();
        reader.on('pageerror', (e) => w.problems.push(`reader: uncaught: ${e.message}`));
        await reader.goto(`${server.url}/vendor/LICENSE-preact.txt`);
      }
      return reader;
    },
    /** Waits for the notification tagged `tag` that has `body`; returns what it shows. */
    async notification(/** @type {string} */ tag, /** @type {string} */ body) {
      const page = await this.reader();
      const shown = await page.waitForFunction(
        async ([tag, body]) => {
          const reg = await navigator.serviceWorker.getRegistration('/');
          const list = reg ? await reg.getNotifications({ tag }) : [];
          const n = list.find((x) => x.body === body);
          return n ? { title: n.title, body: n.body, tag: n.tag, data: n.data } : null;
        },
        [tag, body],
        { timeout: TIMEOUT, polling: 100 },
      );
      return shown.jsonValue();
    },
    /** The notifications shown now. */
    async notifications() {
      const page = await this.reader();
      return page.evaluate(async () => {
        const reg = await navigator.serviceWorker.getRegistration('/');
        return (reg ? await reg.getNotifications() : []).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------

browserTest(
  'a push reaches a closed tab: checked, decrypted, shown, clicked open; previews; a muted chat pushes nothing',
  async (w) => {
    const server = /** @type {Server} */ (w.server);
    const bob = await server.apiUser('bob', 'Bob Builder');
    const browser = await pushBrowser(w, server);

    // Ada signs up in the browser; the app registers its service worker.
    let ada = await w.page('ada', { context: browser.context });
    await register(ada, 'ada', 'Ada Lovelace');
    await startDirectChat(ada, 'bob', 'Bob Builder');
    await browser.registrationId();
    const session = await storedSession(ada);
    const adaId = session.user.id;
    const direct = (await server.api('GET', '/conversations', bob.token)).conversations[0];
    const team = await server.api('POST', '/conversations', bob.token, { type: 'group', name: 'Team', member_ids: [adaId] });
    await expectVisible(conversationItem(ada, 'Team'));

    // The subscription: as a browser would make it, registered with Ada's token (this device's).
    pushService.vapidKey = (await server.api('GET', '/push/vapid', null)).public_key;
    assert.match(pushService.vapidKey, /^[A-Za-z0-9_-]{87}$/, 'an uncompressed P-256 point, base64url');
    const sub = pushService.subscribe('ada-laptop');
    const created = await server.api('POST', '/push/subscriptions', session.token, sub.toJSON());
    assert.equal(created.endpoint, sub.endpoint);
    assert.equal(created.session_id, session.session_id);
    const listed = (await server.api('GET', '/push/subscriptions', session.token)).subscriptions;
    assert.deepEqual(listed.map((/** @type {any} */ s) => s.id), [created.id]);

    /** Ada closes every tab of the app; resolves once the server counts her as gone. */
    const adaLeaves = async () => {
      await ada.close();
      await until('Ada offline', async () => !(await server.api('GET', `/users/${adaId}`, bob.token)).online, 4 * SLOW_TIMEOUT);
    };
    /** @param {string} convId @param {string} text */
    const bobSays = (convId, text) => server.api('POST', `/conversations/${convId}/messages`, bob.token, { text });

    // 1. No tab open: Bob's message is pushed once, without a preview (the default).
    await adaLeaves();
    const hello = await bobSays(direct.id, 'Hello Ada, are you there?');
    const p1 = await pushService.waitFor(1);
    assert.equal(p1.subscription, 'ada-laptop');
    assert.equal(p1.headers.ttl, '86400');
    assert.equal(p1.headers.urgency, 'high', 'a direct message is urgent');
    assert.match(String(p1.headers.topic), /^[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(
      { ...p1.payload, sent_at: undefined, seq: undefined },
      {
        type: 'new_message',
        conversation_id: direct.id,
        conversation_kind: 'direct',
        conversation_name: null,
        message_id: hello.id,
        sender: { id: bob.user.id, display_name: 'Bob Builder' },
        mention: false,
        reply: false,
        sent_at: undefined,
        seq: undefined,
      },
      'the payload (no preview: previews are off by default)',
    );
    assert.equal(p1.payload.seq, hello.seq);
    assert.ok(!('preview' in p1.payload));

    // The service worker shows it, with the tab still closed.
    await browser.deliver(p1.text);
    assert.deepEqual(await browser.notification(direct.id, 'New message'), {
      title: 'Bob Builder',
      body: 'New message',
      tag: direct.id,
      data: { conversation_id: direct.id, message_id: hello.id },
    });

    // A click on it (the service worker's click handling, replayed by a page: a system
    // notification cannot be clicked here) opens the conversation in the app's window.
    ada = await w.page('ada again', { context: browser.context });
    await expectVisible(conversationItem(ada, 'Bob Builder'));
    await expectHidden(heading(ada, 'Bob Builder'));
    const click = await ada.evaluate(async (tag) => {
      const reg = await navigator.serviceWorker.ready;
      return new Promise((resolve) => {
        navigator.serviceWorker.addEventListener('message', (e) => {
          if (e.data?.type === 'notification_click_done') resolve(e.data);
        });
        reg.active?.postMessage({ type: 'notification_click', tag });
      });
    }, direct.id);
    assert.deepEqual(click, { type: 'notification_click_done', tag: direct.id, done: [{ action: 'posted', url: `${server.url}/` }], error: null });
    await expectVisible(heading(ada, 'Bob Builder'));
    assert.deepEqual(await browser.notifications(), [], 'the clicked notification is closed');

    // With no window of the app open, a click opens one at the conversation's address
    // (`/#/c/ID`): loaded afresh, that address shows the conversation.
    await ada.goto(`${server.url}/?#/c/${team.id}`);
    await expectVisible(heading(ada, 'Team'));
    assert.equal(new URL(ada.url()).hash, '', 'the address goes back to /');

    // 2. Ada turns previews on in the panel: the next push carries the text.
    const panel = await openNotificationSettings(ada);
    assert.equal(await toggle(panel, 'Show message previews').isChecked(), false);
    await toggle(panel, 'Show message previews').click();
    await expectChecked(toggle(panel, 'Show message previews'), true);
    assert.equal((await server.api('GET', '/users/me/notifications', session.token)).previews, true);
    await closeSettings(ada);
    await adaLeaves();
    const lunch = await bobSays(direct.id, 'Lunch at noon?');
    const p2 = await pushService.waitFor(2);
    assert.equal(p2.payload.message_id, lunch.id);
    assert.equal(p2.payload.preview, 'Lunch at noon?');
    await browser.deliver(p2.text);
    assert.deepEqual(await browser.notification(direct.id, 'Lunch at noon?'), {
      title: 'Bob Builder',
      body: 'Lunch at noon?',
      tag: direct.id,
      data: { conversation_id: direct.id, message_id: lunch.id },
    });

    // 3. Ada mutes the direct chat from its header: the list shows it muted.
    ada = await w.page('ada muting', { context: browser.context });
    await openConversation(ada, 'Bob Builder');
    const main = ada.getByRole('main');
    await button(main, 'Mute notifications').click();
    await button(main, 'Until I unmute').click();
    await expectVisible(conversationItem(ada, 'Bob Builder').getByRole('img', { name: 'Muted', exact: true }));
    await expectVisible(button(main, 'Unmute'));
    assert.equal(await conversationItem(ada, 'Team').getByRole('img', { name: 'Muted' }).count(), 0);
    const settings = await server.api('GET', '/users/me/notifications', session.token);
    assert.deepEqual(settings.muted, [{ conversation_id: direct.id, until: null }]);
    await adaLeaves();
    // Bob writes in the muted chat, then in the group: the group's push is the only new one.
    await bobSays(direct.id, 'Are you ignoring me?');
    const meeting = await bobSays(team.id, 'Team meeting at 3');
    const p3 = await pushService.waitFor(3);
    assert.equal(p3.payload.conversation_id, team.id, 'the muted chat pushed nothing');
    assert.equal(p3.payload.message_id, meeting.id);
    assert.equal(p3.payload.conversation_kind, 'group');
    assert.equal(p3.payload.conversation_name, 'Team');
    assert.equal(p3.payload.preview, 'Team meeting at 3');
    assert.equal(p3.headers.urgency, 'normal');
    assert.notEqual(p3.headers.topic, p1.headers.topic, 'each conversation has its own topic');
    await browser.deliver(p3.text);
    assert.deepEqual(await browser.notification(team.id, 'Team meeting at 3'), {
      title: 'Bob Builder in Team',
      body: 'Team meeting at 3',
      tag: team.id,
      data: { conversation_id: team.id, message_id: meeting.id },
    });
    assert.equal(pushService.pushes.length, 3, 'exactly one push per unmuted message');
    // Without a preview, a mention says so (the worker's wording, on a payload made here).
    await browser.deliver(JSON.stringify({ ...p1.payload, mention: true, message_id: 'mention-1' }));
    assert.deepEqual(await browser.notification(direct.id, 'Bob Builder mentioned you'), {
      title: 'Bob Builder',
      body: 'Bob Builder mentioned you',
      tag: direct.id,
      data: { conversation_id: direct.id, message_id: 'mention-1' },
    });
    assert.deepEqual(pushService.problems, []);
  },
  { timeout: 180_000, serverArgs: PUSH_ARGS },
);

browserTest(
  'the Notifications panel: no push service here (said so), previews, mentions, do not disturb, muting; axe',
  async (w) => {
    // Chromium says so in the console when a page asks for a push subscription in a context
    // like Playwright's (no profile): that is the refusal the panel reports.
    w.allow(/Push API in incognito mode/);
    const server = /** @type {Server} */ (w.server);
    await server.apiUser('max', 'Max Mustermann');
    const context = await w.context();
    await context.grantPermissions(['notifications'], { origin: server.url });
    const cyd = await w.page('cyd', { context });
    await register(cyd, 'cyd', 'Cyd Charisse');
    await startDirectChat(cyd, 'max', 'Max Mustermann');
    const session = await storedSession(cyd);
    const settings = () => server.api('GET', '/users/me/notifications', session.token);
    assert.deepEqual(await settings(), { previews: false, mentions_when_muted: true, dnd: null, muted: [] }, 'the defaults');

    const panel = await openNotificationSettings(cyd);
    const device = toggle(panel, 'Notifications on this device');
    await expectVisible(device);
    await cyd.waitForFunction((el) => !(/** @type {HTMLInputElement} */ (el).disabled), await device.elementHandle());
    assert.equal(await device.isChecked(), false);
    await device.click();
    // Headless Chromium has no push service: the subscription is refused, the switch stays off.
    const alert = panel.getByRole('alert');
    const refused = await alert
      .filter({ hasText: 'This browser cannot receive push notifications here' })
      .waitFor({ timeout: TIMEOUT })
      .then(() => true, () => false);
    const subs = (await server.api('GET', '/push/subscriptions', session.token)).subscriptions;
    if (refused) {
      await expectChecked(device, false);
      assert.deepEqual(subs, [], 'nothing was registered');
    } else {
      // A browser that has a push service here: the subscription is registered for this session.
      assert.equal(await device.isChecked(), true);
      assert.equal(subs.length, 1);
      assert.equal(subs[0].session_id, session.session_id);
    }

    // Previews and mentions in muted conversations.
    await toggle(panel, 'Show message previews').click();
    await expectChecked(toggle(panel, 'Show message previews'), true);
    assert.equal((await settings()).previews, true);
    const mentions = toggle(panel, 'Notify me of mentions and replies in muted conversations');
    assert.equal(await mentions.isChecked(), true);
    await mentions.click();
    await expectChecked(mentions, false);
    assert.equal((await settings()).mentions_when_muted, false);

    // Do not disturb: for an hour, until turned off, off.
    const dnd = panel.getByLabel('Do not disturb', { exact: true });
    await dnd.selectOption({ label: 'For 1 hour' });
    await expectText(panel.getByTestId('dnd-state'), 'Do not disturb is on until');
    const hour = (await settings()).dnd;
    const left = Date.parse(hour.until) - Date.now();
    assert.ok(left > 55 * 60e3 && left <= 60 * 60e3, `an hour (${left} ms)`);
    await dnd.selectOption({ label: 'Until tomorrow 8:00' });
    await until('until 8:00', async () => {
      const d = (await settings()).dnd;
      return d?.until && new Date(d.until).getHours() === 8 && Date.parse(d.until) - Date.now() > 60 * 60e3;
    });
    await dnd.selectOption({ label: 'Until I turn it off' });
    await expectText(panel.getByTestId('dnd-state'), 'until you turn it off');
    assert.deepEqual((await settings()).dnd, { until: null });
    await axeCheck(cyd, 'the Notifications panel (light)');
    await cyd.emulateMedia({ colorScheme: 'dark' });
    await axeCheck(cyd, 'the Notifications panel (dark)');
    await cyd.emulateMedia({ colorScheme: 'light' });
    await screenshot(cyd, 'notifications.png');
    await dnd.selectOption({ label: 'Off' });
    await expectText(panel.getByTestId('dnd-state'), 'Do not disturb is off');
    assert.equal((await settings()).dnd, null);
    await closeSettings(cyd);

    // Muting for an hour from the header; the panel lists it; unmuting from the header.
    const main = cyd.getByRole('main');
    await button(main, 'Mute notifications').click();
    for (const choice of ['1 hour', '8 hours', '1 week', 'Until I unmute']) await expectVisible(button(main, choice));
    await axeCheck(cyd, 'the mute menu');
    await button(main, '1 hour').click();
    const item = conversationItem(cyd, 'Max Mustermann');
    await expectVisible(item.getByRole('img', { name: 'Muted', exact: true }));
    const muted = (await settings()).muted;
    assert.equal(muted.length, 1);
    const mleft = Date.parse(muted[0].until) - Date.now();
    assert.ok(mleft > 55 * 60e3 && mleft <= 60 * 60e3, `muted for an hour (${mleft} ms)`);
    const again = await openNotificationSettings(cyd);
    await expectText(again.getByTestId('muted-conversations'), 'Max Mustermann');
    await axeCheck(cyd, 'the Notifications panel with a muted conversation');
    await closeSettings(cyd);
    await button(main, 'Unmute').click();
    await expectHidden(item.getByRole('img', { name: 'Muted' }));
    await expectVisible(button(main, 'Mute notifications'));
    assert.deepEqual((await settings()).muted, []);
  },
  { timeout: 90_000, serverArgs: PUSH_ARGS },
);
