// How the client looks and reads: axe-core finds no serious or critical accessibility violation
// (sign-in screen, an open conversation, the account dialog and the admin page; light and dark), and the screenshots for the README (and of the account dialog and the admin page, to look at)
// (desktop 1280×800 and phone 390×844, light and dark) are written to $NATTER_ARTIFACTS.

import assert from 'node:assert/strict';

import {
  attach,
  button,
  conversationNav,
  expectAbsent,
  expectHidden,
  axeSource,
  browserTest,
  expectAttr,
  expectImageLoaded,
  expectText,
  expectVisible,
  logIn,
  makeLandscapePng,
  message,
  openConversation,
  register,
  screenshot,
  send,
  signInForm,
  startDirectChat,
  tick,
  timeline,
} from './harness.mjs';

/**
 * A conversation worth looking at: Lena (in the page) and Max (through the API) with a few
 * messages, an image, read and delivered ticks. Returns Lena's page with it open.
 * @param {import('./harness.mjs').World} w
 * @param {import('playwright-core').BrowserContextOptions} [options]
 */
async function conversationScene(w, options) {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const max = await server.apiUser('max', 'Max Mustermann');
  const lena = await w.page('lena', options);
  await register(lena, 'lena', 'Lena Berg');
  await startDirectChat(lena, 'max', 'Max Mustermann');
  // Max is online too (his browser shows his list), so the header says so.
  const maxPage = await w.page('max');
  await logIn(maxPage, 'max');
  await expectText(lena.getByTestId('header-presence'), 'online');
  const conv = (await server.api('GET', '/conversations', max.token)).conversations[0];
  const say = (text) => server.api('POST', `/conversations/${conv.id}/messages`, max.token, { text });

  await say('Hi Lena! Are we still on for the hike on Saturday?');
  await expectVisible(message(lena, 'still on for the hike'));
  await send(lena, 'Yes! I found the trail map, look:');
  await attach(lena, { name: 'trail.png', mimeType: 'image/png', buffer: makeLandscapePng() });
  await expectImageLoaded(timeline(lena).getByTestId('thumbnail').first());
  await say('Looks great. Meet at the station at 9?');
  await send(lena, 'Perfect, see you at 9 at the station.');
  const mine = await send(lena, 'I will bring coffee for both of us.');
  // Max has read up to Lena's second-to-last message; the last one is only delivered.
  const all = (await server.api('GET', `/conversations/${conv.id}/messages`, max.token)).messages;
  const last = all[all.length - 1];
  await server.api('PUT', `/messages/${last.id}/delivered`, max.token);
  await server.api('PUT', `/messages/${all[all.length - 2].id}/read`, max.token);
  await expectAttr(tick(mine), 'data-status', 'delivered');
  await expectAttr(tick(message(lena, 'see you at 9')), 'data-status', 'read');
  // Max liked the plan (a reaction chip under Lena's message).
  const plan = all.find((/** @type {any} */ m) => m.text?.startsWith('Perfect'));
  await server.api('PUT', `/messages/${plan.id}/reactions/${encodeURIComponent('👍')}`, max.token);
  await expectVisible(message(lena, 'see you at 9').getByTestId('reaction'));
  return lena;
}

/** Runs axe-core in the page; fails on serious or critical violations. */
async function axeCheck(page, where) {
  // The page's CSP forbids inline scripts, so axe is not added as a <script> tag: Playwright's
  // evaluate runs it through the DevTools protocol, which the CSP does not govern.
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
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe-core: serious or critical violations on ${where}`);
}

browserTest('axe-core: no serious or critical violations, light and dark', async (w) => {
  // The wrong password below is answered 401, which Chromium logs as a failed resource.
  w.allow(/the server responded with a status of 401/);
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    const page = await w.page(`signin-${colorScheme}`, { colorScheme });
    await expectVisible(signInForm(page).createAccount);
    await axeCheck(page, `the sign-in screen (${colorScheme})`);
    // The error state too.
    await signInForm(page).username.fill('nobody');
    await signInForm(page).password.fill('wrong password');
    await signInForm(page).logIn.click();
    await expectVisible(signInForm(page).alert);
    await axeCheck(page, `the sign-in screen with an error (${colorScheme})`);
  }
  const lena = await conversationScene(w);
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await lena.emulateMedia({ colorScheme });
    await axeCheck(lena, `an open conversation (${colorScheme})`);
  }
  await lena.setViewportSize({ width: 390, height: 844 });
  await axeCheck(lena, 'an open conversation on a narrow screen');
  await lena.setViewportSize({ width: 1280, height: 800 });

  // A message's actions open with the reaction picker; message search with its results.
  const coffee = message(lena, 'bring coffee');
  await coffee.hover();
  await button(coffee, 'Message actions').click();
  await expectVisible(coffee.getByTestId('reaction-picker'));
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await lena.emulateMedia({ colorScheme });
    await axeCheck(lena, `the message actions with the reaction picker (${colorScheme})`);
  }
  await lena.keyboard.press('Escape');
  await expectHidden(coffee.getByTestId('reaction-picker'));
  await lena.getByRole('searchbox', { name: 'Search messages' }).fill('station');
  await expectVisible(lena.getByTestId('search-result').nth(1));
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await lena.emulateMedia({ colorScheme });
    await axeCheck(lena, `message search results (${colorScheme})`);
  }
  await screenshot(lena, 'search.png');
  await button(lena, 'Close search').click();

  // The account dialog (profile, password, sessions, blocked users, danger zone).
  await button(lena, 'Account').click();
  const account = lena.getByRole('dialog', { name: 'Account' });
  await expectVisible(account.getByTestId('session').first());
  await axeCheck(lena, 'the account dialog');
  await screenshot(lena, 'account.png');
  await lena.setViewportSize({ width: 390, height: 844 });
  await lena.emulateMedia({ colorScheme: 'dark' });
  await screenshot(lena, 'account-phone-dark.png');
  await lena.setViewportSize({ width: 1280, height: 800 });
  await button(account, 'Close').click();

  // The admin page, for Max (the server's first account, so its admin).
  const max = await w.page('max-admin');
  await logIn(max, 'max');
  await button(max, 'Admin').click();
  const admin = max.getByRole('dialog', { name: 'Admin' });
  await expectVisible(admin.getByTestId('stats'));
  await expectVisible(admin.getByTestId('admin-user').first());
  await button(admin.getByRole('region', { name: 'Invites' }), 'Create invite').click();
  await expectVisible(admin.getByTestId('invite'));
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await max.emulateMedia({ colorScheme });
    await axeCheck(max, `the admin page (${colorScheme})`);
    await screenshot(max, colorScheme === 'light' ? 'admin.png' : 'admin-dark.png');
  }
  await max.setViewportSize({ width: 390, height: 844 });
  await axeCheck(max, 'the admin page on a narrow screen');
  await screenshot(max, 'admin-phone-dark.png');
}, { timeout: 120_000 });

browserTest('screenshots: desktop and phone, light and dark', async (w) => {
  const lena = await conversationScene(w);
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await lena.emulateMedia({ colorScheme });
    await screenshot(lena, colorScheme === 'light' ? 'desktop.png' : 'desktop-dark.png');
  }
  const phone = await w.page('lena-phone', {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  await logIn(phone, 'lena');
  await screenshot(phone, 'phone-list.png');
  await openConversation(phone, 'Max Mustermann');
  await expectImageLoaded(timeline(phone).getByTestId('thumbnail').first());
  await expectAttr(tick(message(phone, 'see you at 9')), 'data-status', 'read');
  for (const colorScheme of /** @type {const} */ (['light', 'dark'])) {
    await phone.emulateMedia({ colorScheme });
    await screenshot(phone, colorScheme === 'light' ? 'phone.png' : 'phone-dark.png');
  }
  // On a phone the list and the conversation are separate views: Back returns to the list.
  await expectAbsent(conversationNav(phone).filter({ visible: true }), 'the list beside the conversation on a phone');
  await button(phone, 'Back').click();
  await expectVisible(conversationNav(phone));
  await expectHidden(timeline(phone));
});
