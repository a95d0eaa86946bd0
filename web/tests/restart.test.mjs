// The server is killed (SIGKILL) mid-chat and started again on the same port: the banner says
// so and comes back, what was typed meanwhile is delivered once, and nothing is lost or doubled.

import assert from 'node:assert/strict';

import {
  banner,
  browserTest,
  button,
  composer,
  expectAttr,
  expectCount,
  expectText,
  expectVisible,
  message,
  messages,
  openConversation,
  register,
  send,
  SLOW_TIMEOUT,
  startDirectChat,
  tick,
  watchWebSockets,
} from './harness.mjs';

browserTest('server killed and restarted mid-chat: reconnecting, then online; nothing lost or doubled', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  // While the server is down the browser logs failed connections: expected here.
  w.allow(/Failed to load resource: net::ERR_|WebSocket connection to .* failed/);

  const hal = await w.page('hal');
  await register(hal, 'hal', 'Hal Nine');
  const ida = await w.page('ida');
  await register(ida, 'ida', 'Ida Lovelace');
  await startDirectChat(hal, 'ida', 'Ida Lovelace');
  await send(hal, 'm1 before the crash');
  await openConversation(ida, 'Hal Nine');
  await send(ida, 'm2 before the crash');
  await expectVisible(message(hal, 'm2 before the crash'));
  await expectAttr(tick(message(hal, 'm1 before the crash')), 'data-status', 'read');

  // The crash comes while Hal sends m3: the server stores it, then dies before its answer
  // reaches the browser. Hal's client cannot know that m3 arrived: it must send it again after
  // the restart, and the server must not store it twice (the same client_id).
  const sockets = [hal, ida].map(watchWebSockets);
  let crashed = false;
  await hal.route('**/api/v1/conversations/*/messages', async (route) => {
    if (crashed || route.request().method() !== 'POST') return route.fallback();
    crashed = true;
    await route.fetch();
    await server.kill();
    await route.abort('connectionreset');
  });
  await composer(hal).fill('m3 sent as the server died');
  await button(hal.getByRole('main'), 'Send').click();
  const m3 = message(hal, 'm3 sent as the server died');
  await expectVisible(m3);
  for (const page of [hal, ida]) {
    await expectAttr(banner(page), 'data-state', 'reconnecting', SLOW_TIMEOUT);
    await expectText(banner(page), 'Reconnecting');
  }
  assert.ok(crashed);
  assert.notEqual(await tick(m3).getAttribute('data-status'), 'read');

  // Hal sends m4 while the server is down: it waits as pending.
  await composer(hal).fill('m4 typed while the server was down');
  await button(hal.getByRole('main'), 'Send').click();
  const m4 = message(hal, 'm4 typed while the server was down');
  await expectVisible(m4);
  assert.equal(await tick(m4).getAttribute('data-status'), 'pending');
  assert.equal(await tick(m4).getAttribute('aria-label'), 'Sending');

  // A real outage, not a blink: each client's socket drops and at least two more attempts to
  // reconnect are refused. Then the server comes back at the worst moment for Hal: just as his
  // client asks over HTTP whether the server is there (a client that falls back to polling when
  // WebSockets fail while HTTP works asks that), or else after three more refused attempts.
  for (const s of sockets) await s.wait(3);
  /** @type {Promise<void> | null} */
  let restarting = null;
  const restartOnce = () => (restarting ??= server.restart());
  /** @type {(v?: unknown) => void} */
  let onAsked = () => {};
  const asked = new Promise((resolve) => (onAsked = resolve));
  await hal.route('**/api/v1/sync*', async (route) => {
    onAsked();
    await restartOnce();
    await route.fallback();
  });
  await Promise.race([asked, sockets[0].wait(6)]);
  await restartOnce();
  for (const page of [hal, ida]) await expectAttr(banner(page), 'data-state', 'online', SLOW_TIMEOUT);
  await expectVisible(message(ida, 'm3 sent as the server died'), SLOW_TIMEOUT);
  await expectVisible(message(ida, 'm4 typed while the server was down'), SLOW_TIMEOUT);
  await expectAttr(tick(m4), 'data-status', 'read', SLOW_TIMEOUT);
  await expectAttr(tick(m3), 'data-status', 'read');

  await send(ida, 'm5 after the restart');
  await expectVisible(message(hal, 'm5 after the restart'));
  await send(hal, 'm6 after the restart');
  await expectVisible(message(ida, 'm6 after the restart'));
  await expectAttr(tick(message(hal, 'm6 after the restart')), 'data-status', 'read');

  const texts = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
  for (const page of [hal, ida]) {
    await expectCount(messages(page), texts.length);
    for (const t of texts) await expectCount(message(page, `${t} `), 1);
    const seqs = await messages(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-seq')));
    assert.deepEqual(seqs, ['1', '2', '3', '4', '5', '6'], `seqs on one side: ${seqs}`);
  }
  // Also after a reload, from the server's own record.
  await hal.reload();
  await openConversation(hal, 'Ida Lovelace');
  await expectCount(messages(hal), texts.length);
});
