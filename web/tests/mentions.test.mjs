// Mentions in a group of three: typing @ in the composer offers the members (arrow keys, Tab or
// Enter pick, Escape closes); the mentioned person's list shows an @ badge that goes when the
// chat is opened; the mention is highlighted in the text, more strongly for the one mentioned.

import assert from 'node:assert/strict';

import {
  browserTest,
  composer,
  conversationItem,
  createGroup,
  expectAbsent,
  expectAttr,
  expectCount,
  expectHidden,
  expectText,
  expectValue,
  expectVisible,
  message,
  openConversation,
  register,
} from './harness.mjs';

/** The composer's list of people to mention. @param {import('playwright-core').Page} page */
const suggestions = (page) => page.getByRole('listbox', { name: 'Mention someone' });

browserTest('mentions: autocomplete, @ badge until read, highlighted for the one mentioned', async (w) => {
  const ann = await w.page('ann');
  await register(ann, 'ann', 'Ann Owner');
  const ben = await w.page('ben');
  await register(ben, 'ben', 'Ben Member');
  const cat = await w.page('cat');
  await register(cat, 'cat', 'Cat Member');
  await createGroup(ann, 'Trio', ['ben', 'cat']);
  await expectVisible(conversationItem(ben, 'Trio'));
  await openConversation(ben, 'Trio');
  // Cat sees the group in her list but does not open it.
  await expectVisible(conversationItem(cat, 'Trio'));

  // "@" offers the other members (and @all to the owner); Escape closes the list.
  await composer(ann).pressSequentially('@');
  const list = suggestions(ann);
  await expectVisible(list);
  await expectCount(list.getByRole('option'), 3);
  await expectText(list.getByRole('option').nth(0), 'Ben Member');
  await expectText(list.getByRole('option').nth(1), 'Cat Member');
  await expectText(list.getByRole('option').nth(2), '@all');
  await expectAttr(list.getByRole('option').nth(0), 'aria-selected', 'true');
  await composer(ann).press('Escape');
  await expectHidden(list);
  await expectValue(composer(ann), '@');

  // Typing narrows it; the arrow keys move; Tab picks.
  await composer(ann).fill('');
  await composer(ann).pressSequentially('Hi @');
  await expectVisible(list);
  await composer(ann).press('ArrowDown');
  await expectAttr(list.getByRole('option', { name: /Cat Member/ }), 'aria-selected', 'true');
  await composer(ann).press('Tab');
  await expectHidden(list);
  await expectValue(composer(ann), 'Hi @cat ');
  // By display name too; Enter picks (and does not send).
  await composer(ann).pressSequentially('and @Be');
  await expectCount(list.getByRole('option'), 1);
  await expectText(list.getByRole('option'), 'Ben Member');
  await composer(ann).press('Enter');
  await expectValue(composer(ann), 'Hi @cat and @ben ');
  await composer(ann).pressSequentially('lunch?');
  await composer(ann).press('Enter');
  await expectValue(composer(ann), '');
  const sent = message(ann, 'Hi @cat and @ben lunch?');
  await expectVisible(sent);

  // The mentions are highlighted; Ben (reading it now) sees his own stronger.
  await expectCount(sent.getByTestId('mention'), 2);
  const onBen = message(ben, 'lunch?');
  await expectVisible(onBen);
  await expectAttr(onBen.getByTestId('mention').filter({ hasText: '@ben' }), 'data-me', 'true');
  await expectAttr(onBen.getByTestId('mention').filter({ hasText: '@cat' }), 'data-me', 'false');
  await expectAbsent(conversationItem(ben, 'Trio').getByTestId('mention-badge'), 'a mention badge for a read mention');

  // Cat has an @ badge beside the unread count, named for screen readers.
  const catsEntry = conversationItem(cat, 'Trio');
  const badge = catsEntry.getByRole('img', { name: '1 unread mention' });
  await expectVisible(badge);
  await expectText(catsEntry.getByTestId('mention-badge'), '@');
  await expectText(catsEntry.getByTestId('unread-badge'), '1');
  // A message without a mention of her adds to the unread count only.
  await composer(ben).fill('Count me in');
  await composer(ben).press('Enter');
  await expectText(catsEntry.getByTestId('unread-badge'), '2');
  await expectVisible(badge);

  // Opening the chat reads it: the badge goes; her mention is highlighted as hers.
  await openConversation(cat, 'Trio');
  await expectHidden(catsEntry.getByTestId('mention-badge'));
  await expectHidden(catsEntry.getByTestId('unread-badge'));
  const onCat = message(cat, 'lunch?');
  await expectAttr(onCat.getByTestId('mention').filter({ hasText: '@cat' }), 'data-me', 'true');
  assert.equal(await onCat.getByTestId('mention').filter({ hasText: '@ben' }).getAttribute('data-me'), 'false');

  // After a reload the server agrees (once her read mark reached it): no mention badge.
  await expectText(ann.getByRole('main').getByTestId('seen-by'), 'Cat Member');
  await cat.reload();
  await expectVisible(conversationItem(cat, 'Trio'));
  await expectAbsent(conversationItem(cat, 'Trio').getByTestId('unread-badge'), 'an unread badge after reading');
  await expectAbsent(conversationItem(cat, 'Trio').getByTestId('mention-badge'), 'a mention badge after reading');
});
