// The admin page: the server's first account is its admin and the only one offered "Admin";
// there it sees stats, creates invites and accounts, disables an account (its open page is
// signed out and it cannot log in, with the error shown), enables it again, makes another admin,
// and is told when it would remove the last admin.

import assert from 'node:assert/strict';

import {
  browserTest,
  button,
  conversationNav,
  expectAbsent,
  expectCount,
  expectHidden,
  expectText,
  expectValue,
  expectVisible,
  logIn,
  PASSWORD,
  register,
  signInForm,
} from './harness.mjs';

/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').Locator} Locator */

/** Opens the admin dialog. @param {Page} page */
async function openAdmin(page) {
  await button(page, 'Admin').click();
  const dialog = page.getByRole('dialog', { name: 'Admin' });
  await expectVisible(dialog);
  return dialog;
}

/** One of the admin page's sections, by its heading. @param {Locator} dialog @param {string} name */
const section = (dialog, name) => dialog.getByRole('region', { name, exact: true });

/** A stat's value. @param {Locator} dialog @param {string} key */
const stat = (dialog, key) => dialog.locator(`[data-testid="stat"][data-stat="${key}"] dd`);

/** The row of an account. @param {Locator} dialog @param {string} username */
const userRow = (dialog, username) => dialog.locator(`[data-testid="admin-user"][data-username="${username}"]`);

/** The badges of an account's row, as text. @param {Locator} row */
const badges = async (row) => (await row.getByTestId('badge').allInnerTexts()).map((t) => t.trim());

/** Logs in with a password through the sign-in screen (no wait for the shell). */
async function tryLogIn(page, username, password) {
  const f = signInForm(page);
  await f.username.fill(username);
  await f.password.fill(password);
  await f.logIn.click();
}

browserTest('the admin sees stats, makes invites and accounts, disables, enables and promotes; the last admin stays', async (w) => {
  // Bob's refused login (disabled) and the last admin's refused demotion (409).
  w.allow(/status of (401|409)/);
  const ada = await w.page('ada', { permissions: ['clipboard-read', 'clipboard-write'] });
  await register(ada, 'ada', 'Ada Admin');
  const admin = await openAdmin(ada);

  // Stats: one account so far.
  await expectText(stat(admin, 'users'), '1');
  await expectVisible(stat(admin, 'conversations'));
  await expectVisible(stat(admin, 'messages'));
  await expectVisible(stat(admin, 'media_bytes'));
  await expectVisible(stat(admin, 'connections'));

  // Invites: two made with uses and an expiry; the link copies; one is revoked.
  const invites = section(admin, 'Invites');
  await invites.getByLabel('Uses', { exact: true }).fill('3');
  await invites.getByLabel('Expires in', { exact: true }).selectOption({ label: '1 day' });
  await button(invites, 'Create invite').click();
  await expectCount(invites.getByTestId('invite'), 1);
  await expectText(invites.getByTestId('invite'), '3 uses left');
  const link = await invites.getByTestId('invite-link').inputValue();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#\/invite\/[A-Za-z0-9_-]+$/);
  await button(invites.getByTestId('invite'), 'Copy link').click();
  await expectText(invites.getByRole('status').filter({ hasText: 'copied' }), 'Link copied.');
  assert.equal(await ada.evaluate(() => navigator.clipboard.readText()), link);
  await invites.getByLabel('Uses', { exact: true }).fill('1');
  await button(invites, 'Create invite').click();
  await expectCount(invites.getByTestId('invite'), 2);
  await button(invites.getByTestId('invite').filter({ hasText: '1 use left' }), 'Revoke').click();
  await expectCount(invites.getByTestId('invite'), 1);
  await expectValue(invites.getByTestId('invite-link'), link);

  // An account made here: listed at once, counted after a refresh.
  const create = section(admin, 'Create an account');
  await create.getByLabel('Username', { exact: true }).fill('bob');
  await create.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await create.getByLabel('Display name (optional)', { exact: true }).fill('Bob Builder');
  await button(create, 'Create account').click();
  await expectText(create.getByRole('status'), 'Account @bob created.');
  await expectVisible(userRow(admin, 'bob'));
  assert.deepEqual(await badges(userRow(admin, 'bob')), []);
  assert.deepEqual(await badges(userRow(admin, 'ada')), ['admin']);
  await button(admin, 'Refresh stats').click();
  await expectText(stat(admin, 'users'), '2');

  // The search box narrows the list.
  const accounts = section(admin, 'Accounts');
  await accounts.getByLabel('Search accounts', { exact: true }).fill('bo');
  await expectCount(accounts.getByTestId('admin-user'), 1);
  await expectVisible(userRow(admin, 'bob'));
  await accounts.getByLabel('Search accounts', { exact: true }).fill('');
  await expectCount(accounts.getByTestId('admin-user'), 2);

  // Bob logs in: no admin entry for him.
  const bob = await w.page('bob');
  await logIn(bob, 'bob');
  await expectVisible(button(bob, 'Account'));
  await expectAbsent(button(bob, 'Admin'), 'the Admin button for a non-admin');

  // Disabled: Bob's open page is signed out, and his login is refused with the error shown.
  await button(userRow(admin, 'bob'), 'Disable bob').click();
  await expectText(userRow(admin, 'bob').getByTestId('badge'), 'disabled');
  await expectVisible(signInForm(bob).logIn);
  await tryLogIn(bob, 'bob', PASSWORD);
  await expectVisible(signInForm(bob).alert);

  // Enabled again: he logs in.
  await button(userRow(admin, 'bob'), 'Enable bob').click();
  await expectHidden(userRow(admin, 'bob').getByTestId('badge'));
  await tryLogIn(bob, 'bob', PASSWORD);
  await expectVisible(conversationNav(bob));

  // Ada is the last admin: removing her own flag is refused, in her row.
  await button(userRow(admin, 'ada'), 'Remove admin ada').click();
  await expectVisible(userRow(admin, 'ada').getByRole('alert'));
  assert.deepEqual(await badges(userRow(admin, 'ada')), ['admin']);

  // Bob made admin: after a reload he has the Admin entry too.
  await button(userRow(admin, 'bob'), 'Make admin bob').click();
  await expectText(userRow(admin, 'bob').getByTestId('badge'), 'admin');
  await bob.reload();
  await expectVisible(button(bob, 'Admin'));

  // A new password for Bob ends his sessions; he logs in with it.
  await button(userRow(admin, 'bob'), 'Set password bob').click();
  const setPw = ada.getByRole('dialog', { name: 'Set password for bob' });
  await setPw.getByLabel('New password', { exact: true }).fill('bobs new password');
  await button(setPw, 'Set password').click();
  await expectHidden(setPw);
  await expectVisible(signInForm(bob).logIn);
  await tryLogIn(bob, 'bob', 'bobs new password');
  await expectVisible(conversationNav(bob));

  // Now that Bob is an admin too, Ada may step down: her Admin entry goes.
  await button(userRow(admin, 'ada'), 'Remove admin ada').click();
  await expectHidden(admin);
  await expectAbsent(button(ada, 'Admin'), 'the Admin button after stepping down');
}, { timeout: 90_000 });

browserTest('the accounts list shows the newest 20 and loads more from the last one shown', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const ada = await server.apiUser('ada', 'Ada Admin');
  for (let i = 1; i <= 21; i++) {
    await server.api('POST', '/admin/users', ada.token, { username: `user${String(i).padStart(2, '0')}`, password: PASSWORD });
  }
  const page = await w.page('ada');
  await logIn(page, 'ada');
  const admin = await openAdmin(page);
  const rows = section(admin, 'Accounts').getByTestId('admin-user');
  await expectCount(rows, 20);
  // Newest first: the last one made is on top, the first two (and Ada) come with "Load more".
  assert.equal(await rows.first().getAttribute('data-username'), 'user21');
  await expectAbsent(userRow(admin, 'user01'), 'an account past the first page');
  await button(section(admin, 'Accounts'), 'Load more').click();
  await expectCount(rows, 22);
  await expectVisible(userRow(admin, 'user01'));
  await expectVisible(userRow(admin, 'ada'));
  await expectHidden(button(section(admin, 'Accounts'), 'Load more'));
});
