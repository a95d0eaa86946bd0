// When no WebSocket can open, the client falls back to /sync long polling and still gets
// messages live.

import {
  banner,
  browserTest,
  expectAttr,
  expectText,
  expectVisible,
  message,
  openConversation,
  register,
  send,
  SLOW_TIMEOUT,
  startDirectChat,
  tick,
} from './harness.mjs';

browserTest('long-poll fallback: polling banner, messages still arrive both ways', async (w) => {
  w.allow(/WebSocket connection to .* failed|WebSocket is closed/);

  const jo = await w.page('jo');
  await register(jo, 'jo_ws', 'Jo Socket');

  // Kim's browser cannot hold a WebSocket: every one is closed at once.
  const kimContext = await w.context();
  await kimContext.routeWebSocket(/\/api\/v1\/ws/, (ws) => ws.close());
  const kim = await w.page('kim', { context: kimContext });
  await register(kim, 'kim_poll', 'Kim Poller', { online: false });
  await expectAttr(banner(kim), 'data-state', 'polling', SLOW_TIMEOUT);

  await startDirectChat(jo, 'kim_poll', 'Kim Poller');
  await send(jo, 'Can you hear me, Kim?');
  await expectText(
    kim.getByRole('navigation', { name: 'Conversations' }).getByTestId('conversation-item'),
    'Jo Socket',
    SLOW_TIMEOUT,
  );
  await openConversation(kim, 'Jo Socket');
  await expectVisible(message(kim, 'Can you hear me, Kim?'));
  await expectAttr(tick(message(jo, 'Can you hear me, Kim?')), 'data-status', 'read', SLOW_TIMEOUT);

  await send(kim, 'Loud and clear, by polling');
  await expectVisible(message(jo, 'Loud and clear, by polling'));
  await send(jo, 'Second one, live');
  await expectVisible(message(kim, 'Second one, live'), SLOW_TIMEOUT);
  await expectAttr(banner(kim), 'data-state', 'polling');
});
