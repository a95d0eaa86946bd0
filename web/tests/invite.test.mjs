// Joining a server by invite: on a server in its default mode (invites), creating an account
// without a code is refused with a message; an invite link fills the code in and lets the
// invited person in.

import assert from 'node:assert/strict';

import {
  browserTest,
  conversationNav,
  expectVisible,
  PASSWORD,
  signInForm,
} from './harness.mjs';

browserTest(
  'an invite link lets a new person create an account; without one, creating it is refused',
  async (w) => {
    const server = /** @type {import('./harness.mjs').Server} */ (w.server);
    // The first account of a new server needs no invite; it is the server's admin.
    const ada = await server.apiUser('ada', 'Ada Admin');
    assert.equal(ada.user.admin, true);

    // No code: refused, with the server's message, and still on the sign-in screen.
    w.allow(/403/);
    const stranger = await w.page('stranger');
    const f = signInForm(stranger);
    await f.username.fill('mallory');
    await f.password.fill(PASSWORD);
    await f.createAccount.click();
    await expectVisible(f.alert);
    assert.match(await f.alert.innerText(), /invite/i);

    // Ada invites; the link opens the sign-in screen with the code filled in.
    const invite = await server.api('POST', '/invites', ada.token, { uses: 1 });
    const ivy = await w.page('ivy');
    await ivy.goto(`${server.url}/#/invite/${invite.code}`);
    const g = signInForm(ivy);
    await expectVisible(ivy.getByText('You were invited: create your account.'));
    assert.equal(await g.invite.inputValue(), invite.code);
    await g.username.fill('ivy');
    await g.password.fill(PASSWORD);
    await g.displayName.fill('Ivy Invited');
    await g.createAccount.click();
    await expectVisible(conversationNav(ivy));
    const me = await server.api('POST', '/sessions', null, { username: 'ivy', password: PASSWORD });
    assert.equal(me.user.display_name, 'Ivy Invited');
    assert.equal(me.user.admin, false);

    // The invite is used up: the same link does not let a second person in.
    const late = await w.page('late');
    await late.goto(`${server.url}/#/invite/${invite.code}`);
    const h = signInForm(late);
    await h.username.fill('latecomer');
    await h.password.fill(PASSWORD);
    await h.createAccount.click();
    await expectVisible(h.alert);
  },
  { registration: 'invite' },
);
