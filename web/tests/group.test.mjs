// A group of three made through the UI: everyone sees everyone's messages, "seen by" shows who
// read, and a plain member is not offered what only owners and admins may do.

import assert from 'node:assert/strict';

import {
  browserTest,
  button,
  conversationItem,
  conversationNav,
  expectCount,
  heading,
  createGroup,
  expectAbsent,
  expectAttr,
  expectText,
  expectVisible,
  message,
  messageActions,
  openConversation,
  register,
  send,
  tick,
} from './harness.mjs';

browserTest('group of three: messages reach all, seen by, member sees no admin controls', async (w) => {
  const ann = await w.page('ann');
  await register(ann, 'ann', 'Ann Owner');
  const ben = await w.page('ben');
  await register(ben, 'ben', 'Ben Member');
  const cat = await w.page('cat');
  await register(cat, 'cat', 'Cat Member');

  await createGroup(ann, 'Trio', ['ben', 'cat']);
  await expectText(ann.getByTestId('header-presence'), '3 members');
  for (const page of [ben, cat]) {
    await expectVisible(conversationItem(page, 'Trio'));
    await openConversation(page, 'Trio');
  }

  const first = await send(ann, 'Welcome to Trio');
  await expectVisible(message(ben, 'Welcome to Trio'));
  await expectVisible(message(cat, 'Welcome to Trio'));
  await send(ben, 'Ben says hi');
  await send(cat, 'Cat says hi');
  for (const page of [ann, ben, cat]) {
    for (const text of ['Welcome to Trio', 'Ben says hi', 'Cat says hi']) {
      await expectVisible(message(page, text));
    }
  }
  // Everyone has the group open: all read; Ann's tick is read and "seen by" names the others.
  await expectAttr(tick(first), 'data-status', 'read');
  const seenBy = ann.getByRole('main').getByTestId('seen-by');
  await expectText(seenBy, 'Ben Member');
  await expectText(seenBy, 'Cat Member');

  // A plain member: no rename, add, remove or role buttons; Leave group is there.
  await button(ben.getByRole('main'), 'Group settings').click();
  const bens = ben.getByRole('dialog', { name: 'Group settings' });
  await expectVisible(button(bens, 'Leave group'));
  await expectCount(bens.getByTestId('member'), 3);
  await expectAbsent(button(bens, 'Rename'), 'Rename, to a member');
  await expectAbsent(bens.getByLabel('Search users'), 'Search users (to add), to a member');
  await expectAbsent(bens.getByRole('button', { name: /^Remove / }), 'Remove buttons, to a member');
  await expectAbsent(bens.getByRole('button', { name: /^Make (admin|member)$/ }), 'role buttons, to a member');
  await ben.keyboard.press('Escape');

  // ... and no "Delete for everyone" on someone else's message, but on its own.
  assert.deepEqual(
    (await messageActions(message(ben, 'Welcome to Trio'))).filter((a) => a.startsWith('Delete')),
    ['Delete for me'],
  );
  assert.ok((await messageActions(message(ben, 'Ben says hi'))).includes('Delete for everyone'));

  // The owner sees them all.
  await button(ann.getByRole('main'), 'Group settings').click();
  const anns = ann.getByRole('dialog', { name: 'Group settings' });
  await expectVisible(button(anns, 'Rename'));
  await expectVisible(anns.getByLabel('Search users', { exact: true }));
  await expectVisible(button(anns, 'Remove ben'));
  await expectVisible(button(anns, 'Remove cat'));
  await expectCount(anns.getByRole('button', { name: 'Make admin', exact: true }), 2);
  // The owner may delete anyone's message for everyone.
  await ann.keyboard.press('Escape');
  assert.ok((await messageActions(message(ann, 'Cat says hi'))).includes('Delete for everyone'));

  // The owner renames the group, makes Ben an admin and removes Cat; the others see it live.
  await button(ann.getByRole('main'), 'Group settings').click();
  await anns.getByLabel('Group name', { exact: true }).fill('Trio Hikers');
  await button(anns, 'Rename').click();
  await expectVisible(heading(ben, 'Trio Hikers'));
  await expectVisible(conversationItem(cat, 'Trio Hikers'));
  const bensRow = anns.getByTestId('member').filter({ hasText: 'Ben' });
  await button(bensRow, 'Make admin').click();
  await expectVisible(button(bensRow, 'Make member'));
  await button(anns, 'Remove cat').click();
  await expectCount(anns.getByTestId('member'), 2);
  await expectCount(conversationNav(cat).getByTestId('conversation-item'), 0);
  await ann.keyboard.press('Escape');
  await expectText(ann.getByTestId('header-presence'), '2 members');
  // Ben, now an admin, may rename and add, but not change roles (owner only).
  await button(ben.getByRole('main'), 'Group settings').click();
  await expectVisible(button(bens, 'Rename'));
  await expectVisible(bens.getByLabel('Search users', { exact: true }));
  await expectAbsent(bens.getByRole('button', { name: /^Remove ann$/ }), 'Remove (the owner), to an admin');
  await expectAbsent(bens.getByRole('button', { name: /^Make (admin|member)$/ }), 'role buttons, to an admin');
});
