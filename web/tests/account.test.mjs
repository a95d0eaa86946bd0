// The account dialog: a new display name reaches the other person and one's other device; a
// password change signs the other device out and the new password logs in; deleting the account
// asks for the password, signs out, and the other person sees "Deleted account".

import assert from 'node:assert/strict';

import {
  browserTest,
  button,
  conversationNav,
  expectAbsent,
  expectText,
  expectVisible,
  heading,
  logIn,
  message,
  openConversation,
  PASSWORD,
  register,
  send,
  signInForm,
  startDirectChat,
} from './harness.mjs';

const NEW_PASSWORD = 'a brand new passphrase';

/** Opens the account dialog. @param {import('playwright-core').Page} page */
async function openAccount(page) {
  await button(page, 'Account').click();
  const dialog = page.getByRole('dialog', { name: 'Account' });
  await expectVisible(dialog);
  return dialog;
}

/** Logs in with a given password through the sign-in screen (no wait for the shell). */
async function tryLogIn(page, username, password) {
  const f = signInForm(page);
  await f.username.fill(username);
  await f.password.fill(password);
  await f.logIn.click();
}

/** Ann (in a page) and Bob (in another) share a direct chat with a message in it. */
async function twoPeople(w) {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  await server.apiUser('bob', 'Bob Builder');
  const ann = await w.page('ann');
  await register(ann, 'ann', 'Ann Able');
  await startDirectChat(ann, 'bob', 'Bob Builder');
  await send(ann, 'Hello Bob, it is Ann.');
  const bob = await w.page('bob');
  await logIn(bob, 'bob');
  await openConversation(bob, 'Ann Able');
  await expectVisible(message(bob, 'Hello Bob, it is Ann.'));
  return { ann, bob };
}

browserTest('a new display name shows at once, to the other person and on the other device; a new password signs the other device out', async (w) => {
  // The wrong current password and the old password below are refused (403, 401).
  w.allow(/status of (401|403)/);
  const { ann, bob } = await twoPeople(w);
  const annPhone = await w.page('ann-phone');
  await logIn(annPhone, 'ann');

  // Display name: saved, shown in the dialog, and by `user_updated` in Bob's chat and Ann's phone.
  const account = await openAccount(ann);
  await account.getByLabel('Display name', { exact: true }).fill('Ann Changed');
  await button(account, 'Save name').click();
  await expectText(account.getByRole('status').filter({ hasText: 'saved' }), 'Display name saved.');
  await expectText(account.getByTestId('my-name'), 'Ann Changed');
  await expectVisible(heading(bob, 'Ann Changed'));
  const phoneAccount = await openAccount(annPhone);
  await expectText(phoneAccount.getByTestId('my-name'), 'Ann Changed');
  await button(phoneAccount, 'Close').click();

  // A wrong current password is refused and said so; nothing changes.
  await account.getByLabel('Current password', { exact: true }).fill('not my password');
  await account.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await button(account, 'Change password').click();
  await expectText(account.getByRole('alert'), 'Wrong current password.');

  // The right one: changed; the phone is signed out, this device stays.
  await account.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await account.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await button(account, 'Change password').click();
  await expectText(account.getByRole('status').filter({ hasText: 'Password' }), 'Password changed.');
  await expectVisible(signInForm(annPhone).logIn);
  await expectText(annPhone.getByRole('status'), 'Your session has ended');
  await expectVisible(conversationNav(ann));

  // The old password no longer logs in; the new one does.
  await tryLogIn(annPhone, 'ann', PASSWORD);
  await expectVisible(signInForm(annPhone).alert);
  await tryLogIn(annPhone, 'ann', NEW_PASSWORD);
  await expectVisible(conversationNav(annPhone));
  await openConversation(annPhone, 'Bob Builder');
  await expectVisible(message(annPhone, 'Hello Bob, it is Ann.'));
});

browserTest('deleting the account asks for the password, signs out, and the other person sees "Deleted account"', async (w) => {
  w.allow(/status of (401|403)/);
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const { ann, bob } = await twoPeople(w);
  await send(bob, 'Hi Ann!');

  const account = await openAccount(ann);
  await button(account, 'Delete account').click();
  const confirm = ann.getByRole('dialog', { name: 'Delete account' });
  await expectVisible(confirm);
  // The wrong password: refused, still signed in.
  await confirm.getByLabel('Password', { exact: true }).fill('not my password');
  await button(confirm, 'Delete my account').click();
  await expectText(confirm.getByRole('alert'), 'Wrong password.');
  // Cancel keeps the account.
  await button(confirm, 'Cancel').click();
  await expectAbsent(confirm, 'the delete dialog after Cancel');
  await button(account, 'Delete account').click();
  await confirm.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await button(confirm, 'Delete my account').click();

  // Signed out, with a notice; a reload stays signed out, and the account cannot log in.
  await expectVisible(signInForm(ann).logIn);
  await expectText(ann.getByRole('status'), 'Your account has been deleted.');
  await ann.reload();
  await expectVisible(signInForm(ann).logIn);
  await tryLogIn(ann, 'ann', PASSWORD);
  await expectVisible(signInForm(ann).alert);
  await assert.rejects(server.api('POST', '/sessions', null, { username: 'ann', password: PASSWORD }), /401/);

  // Bob, live: the chat's title becomes "Deleted account", with Ann's messages still there;
  // sending there is not offered. The same after a reload.
  await expectVisible(heading(bob, 'Deleted account'));
  await expectVisible(message(bob, 'Hello Bob, it is Ann.'));
  await expectText(bob.getByTestId('composer-note'), 'This account was deleted');
  await bob.reload();
  await openConversation(bob, 'Deleted account');
  await expectVisible(message(bob, 'Hello Bob, it is Ann.'));
  await expectText(bob.getByTestId('composer-note'), 'This account was deleted');
});
