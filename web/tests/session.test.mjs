// The session: a reload keeps it (and the conversation list); two tabs of one person stay in step.

import assert from 'node:assert/strict';

import {
  banner,
  browserTest,
  button,
  expectAbsent,
  expectCount,
  PASSWORD,
  deliveredMarks,
  timeline,
  conversationItem,
  conversationNav,
  expectAttr,
  expectHidden,
  expectText,
  expectVisible,
  heading,
  message,
  openConversation,
  register,
  send,
  signInForm,
  startDirectChat,
} from './harness.mjs';

browserTest('a reload keeps the session and the conversation list', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  await server.apiUser('dora', 'Dora Explorer');
  const eve = await w.page('eve');
  await register(eve, 'eve', 'Eve Online');
  await startDirectChat(eve, 'dora', 'Dora Explorer');
  await send(eve, 'Before the reload');

  await eve.reload();
  await expectVisible(conversationNav(eve));
  await expectAttr(banner(eve), 'data-state', 'online');
  assert.equal(await signInForm(eve).createAccount.count(), 0, 'the sign-in screen is back after a reload');
  await expectText(conversationItem(eve, 'Dora Explorer').getByTestId('preview'), 'Before the reload');
  await openConversation(eve, 'Dora Explorer');
  await expectVisible(message(eve, 'Before the reload'));
  await send(eve, 'After the reload');
  await expectVisible(heading(eve, 'Dora Explorer'));

  // The account dialog lists Eve's sessions; another device can be logged out from here.
  const other = await server.api('POST', '/sessions', null, {
    username: 'eve',
    password: PASSWORD,
    device_name: 'Other laptop',
  });
  await button(eve, 'Account').click();
  const account = eve.getByRole('dialog').filter({ has: eve.getByTestId('session') });
  await expectCount(account.getByTestId('session'), 2);
  const otherRow = account.getByTestId('session').filter({ hasText: 'Other laptop' });
  await button(otherRow, 'Log out this device').click();
  await expectCount(account.getByTestId('session'), 1);
  await expectAbsent(button(account, 'Log out this device'), 'Log out this device on the current session');
  await assert.rejects(server.api('GET', '/users/me', other.token), /401/);

  // Log out: back to the sign-in screen, and a reload stays there.
  await button(account, 'Log out').click();
  await expectVisible(signInForm(eve).logIn);
  await eve.reload();
  await expectVisible(signInForm(eve).logIn);
  await expectAbsent(conversationNav(eve), 'the conversation list after logging out');

  // Logging in again, from the keyboard alone: Tab between the fields, Enter to log in.
  await signInForm(eve).username.focus();
  await eve.keyboard.type('eve');
  await eve.keyboard.press('Tab');
  assert.equal(await signInForm(eve).password.evaluate((el) => el === document.activeElement), true);
  await eve.keyboard.type(PASSWORD);
  await eve.keyboard.press('Enter');
  await expectVisible(conversationNav(eve));
  await expectText(conversationItem(eve, 'Dora Explorer').getByTestId('preview'), 'After the reload');
});

browserTest('two tabs of one person: reading in one clears the badge in the other', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const gus = await server.apiUser('gus', 'Gus Sender');
  const tab1 = await w.page('fay-tab1');
  await register(tab1, 'fay', 'Fay Reader');
  const tab2 = await w.page('fay-tab2', { context: tab1.context() });
  await expectVisible(conversationNav(tab2));
  await expectAttr(banner(tab2), 'data-state', 'online');

  // Gus writes to Fay through the API.
  const conv = await server.api('POST', '/conversations', gus.token, {
    type: 'direct',
    user_id: (await server.api('GET', '/users?query=fay', gus.token)).users[0].id,
  });
  // Ten at once: each tab marks them delivered in a few debounced marks, not one per message.
  await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      server.api('POST', `/conversations/${conv.id}/messages`, gus.token, { text: `Gus says ${i + 1}.` }),
    ),
  );
  const last = await server.api('POST', `/conversations/${conv.id}/messages`, gus.token, { text: 'Three from Gus' });
  for (const tab of [tab1, tab2]) {
    await expectText(conversationItem(tab, 'Gus Sender').getByTestId('unread-badge'), '11');
  }
  assert.equal(last.seq, 11);

  // Fay reads in tab 1: the badge goes in tab 2 too.
  await openConversation(tab1, 'Gus Sender');
  await expectVisible(message(tab1, 'Three from Gus'));
  await expectVisible(timeline(tab1).getByTestId('unread-marker'));
  await expectHidden(conversationItem(tab1, 'Gus Sender').getByTestId('unread-badge'));
  await expectHidden(conversationItem(tab2, 'Gus Sender').getByTestId('unread-badge'));

  // And what Fay sends in tab 1 shows in tab 2.
  await send(tab1, 'Fay answers from tab 1');
  await expectText(conversationItem(tab2, 'Gus Sender').getByTestId('preview'), 'Fay answers from tab 1');
  await openConversation(tab2, 'Gus Sender');
  await expectAttr(message(tab2, 'Fay answers from tab 1'), 'data-mine', 'true');

  for (const [i, m] of [tab1, tab2].map(deliveredMarks).entries()) {
    assert.ok(m.length >= 1 && m.length <= 4, `tab ${i + 1} sent ${m.length} delivered marks for 11 messages: ${m}`);
  }
});
