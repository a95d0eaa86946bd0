// Blocking: Ann blocks Bob from his profile (after a confirmation); her composer gives way to a
// note, Bob's next message is refused with the error shown; Ann unblocks him from her account's
// "Blocked users", and his message goes through on "Try again". Skipped on a server without
// blocking (no /api/v1/users/me/blocks in its OpenAPI description).

import {
  browserTest,
  button,
  composer,
  expectAbsent,
  expectCount,
  expectHidden,
  expectText,
  expectVisible,
  heading,
  logIn,
  message,
  openConversation,
  register,
  send,
  startDirectChat,
} from './harness.mjs';

browserTest('a blocked person cannot send; after unblocking, the message goes through', async (w) => {
  // Bob's refused send (403).
  w.allow(/status of 403/);
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  await server.apiUser('bob', 'Bob Builder');
  const ann = await w.page('ann');
  await register(ann, 'ann', 'Ann Able');
  await startDirectChat(ann, 'bob', 'Bob Builder');
  await send(ann, 'Hi Bob.');
  const bob = await w.page('bob');
  await logIn(bob, 'bob');
  await openConversation(bob, 'Ann Able');
  await send(bob, 'Hi Ann, nice to meet you.');
  await expectVisible(message(ann, 'nice to meet you'));

  // Ann opens Bob's profile and blocks him, after confirming.
  await button(ann.getByRole('main'), 'Profile').click();
  const profile = ann.getByRole('dialog', { name: 'Bob Builder' });
  await button(profile, 'Block').click();
  const confirm = ann.getByRole('dialog', { name: 'Block Bob Builder?' });
  await button(confirm, 'Block').click();
  await expectHidden(confirm);
  await expectVisible(button(profile, 'Unblock'));
  await button(profile, 'Close').click();
  // Her composer is replaced by a note.
  await expectText(ann.getByTestId('composer-note'), 'You blocked Bob Builder');
  await expectAbsent(composer(ann), 'the composer in a chat with a blocked person');

  // Bob's message is refused: the error shows on it, and his composer says why.
  await composer(bob).fill('Are you there?');
  await button(bob.getByRole('main'), 'Send').click();
  await expectText(message(bob, 'Are you there?').getByRole('alert'), 'Not sent');
  await expectText(bob.getByTestId('composer-note'), 'You cannot send messages to Ann Able');
  await expectAbsent(message(ann, 'Are you there?'), 'the refused message on Ann\'s side');

  // Ann unblocks him from her account's "Blocked users".
  await button(ann, 'Account').click();
  const account = ann.getByRole('dialog', { name: 'Account' });
  await expectCount(account.getByTestId('blocked-user'), 1);
  await button(account, 'Unblock bob').click();
  await expectCount(account.getByTestId('blocked-user'), 0);
  await button(account, 'Close').click();
  await expectVisible(composer(ann));

  // Bob tries again: the message arrives; new ones go through too.
  await button(bob, 'Try again').click();
  await expectVisible(message(ann, 'Are you there?'));
  await expectVisible(composer(bob));
  await send(bob, 'Thanks for unblocking me.');
  await expectVisible(message(ann, 'Thanks for unblocking me.'));
  await expectVisible(heading(ann, 'Bob Builder'));
});
