// Reactions between two people: Ann reacts 👍 to Bob's message from its actions, Bob sees the
// chip live and adds the same (count 2, both pressed on each side); Ann takes hers back (1);
// hovering a chip shows who reacted; a message deleted for everyone loses its reactions.

import assert from 'node:assert/strict';

import {
  browserTest,
  conversationItem,
  expectAttr,
  expectCount,
  expectText,
  expectVisible,
  message,
  messageAction,
  openConversation,
  register,
  send,
  startDirectChat,
  timeline,
} from './harness.mjs';

/** The message with this id. @param {import('playwright-core').Page} page @param {string} id */
const byId = (page, id) => timeline(page).locator(`[data-testid="message"][data-message-id="${id}"]`);
/** A message's reaction chip for `emoji`. @param {import('playwright-core').Locator} msg @param {string} emoji */
const chip = (msg, emoji) => msg.getByTestId('reaction').and(msg.page().locator(`[data-emoji="${emoji}"]`));

/** Waits until the chip shows `count` and is pressed (or not). */
async function expectChip(msg, emoji, count, pressed) {
  await expectAttr(chip(msg, emoji), 'data-count', String(count));
  await expectAttr(chip(msg, emoji), 'aria-pressed', pressed ? 'true' : 'false');
  await expectText(chip(msg, emoji), `${emoji} ${count}`);
}

browserTest('reactions: live counts and pressed states, who reacted, gone with a deleted message', async (w) => {
  const ann = await w.page('ann');
  await register(ann, 'ann', 'Ann Able');
  const bob = await w.page('bob');
  await register(bob, 'bob', 'Bob Baker');
  await startDirectChat(ann, 'bob', 'Bob Baker');
  await send(ann, 'Hello Bob');
  await expectVisible(conversationItem(bob, 'Ann Able'));
  await openConversation(bob, 'Ann Able');
  const mine = await send(bob, 'Lunch at noon?');
  const id = /** @type {string} */ (await mine.getAttribute('data-message-id'));
  const onAnn = byId(ann, id);
  const onBob = byId(bob, id);
  await expectVisible(onAnn);
  await expectCount(onAnn.getByTestId('reaction'), 0);

  // Ann reacts 👍 from the message's actions; Bob sees it live.
  await messageAction(onAnn, 'React with 👍');
  await expectChip(onAnn, '👍', 1, true);
  await expectChip(onBob, '👍', 1, false);

  // Bob adds the same with a click on the chip: 2 on both sides, pressed for both.
  await chip(onBob, '👍').click();
  await expectChip(onBob, '👍', 2, true);
  await expectChip(onAnn, '👍', 2, true);

  // Hovering the chip says who reacted (and so does its title).
  await chip(onAnn, '👍').hover();
  const who = ann.getByTestId('reactors');
  await expectText(who, 'You');
  await expectText(who, 'Bob Baker');
  assert.match((await chip(onAnn, '👍').getAttribute('title')) ?? '', /You, Bob Baker/);
  await chip(onBob, '👍').hover();
  await expectText(bob.getByTestId('reactors'), 'Ann Able, You');

  // Ann takes hers back: 1 on both sides, pressed only for Bob.
  await chip(onAnn, '👍').click();
  await expectChip(onAnn, '👍', 1, false);
  await expectChip(onBob, '👍', 1, true);

  // A second emoji comes after the first; the picker shows what one picked as pressed.
  await messageAction(onAnn, 'React with 🎉');
  await expectChip(onBob, '🎉', 1, false);
  await expectChip(onAnn, '🎉', 1, true);
  assert.deepEqual(await onAnn.getByTestId('reaction').evaluateAll((els) => els.map((e) => e.getAttribute('data-emoji'))), ['👍', '🎉']);

  // Bob takes his 👍 back: the chip goes at 0.
  await chip(onBob, '👍').click();
  await expectCount(chip(onAnn, '👍'), 0);
  await expectCount(chip(onBob, '👍'), 0);

  // Reactions on another message (Ann's own), then Bob deletes his for everyone: its reactions go.
  const hello = message(bob, 'Hello Bob');
  await messageAction(hello, 'React with ❤️');
  await expectChip(message(ann, 'Hello Bob'), '❤️', 1, false);
  await messageAction(onBob, 'Delete for everyone');
  await expectText(onAnn.getByTestId('message-text'), 'This message was deleted');
  await expectCount(onAnn.getByTestId('reaction'), 0);
  await expectCount(onBob.getByTestId('reaction'), 0);
  await expectChip(message(ann, 'Hello Bob'), '❤️', 1, false);

  // After a reload, the server's reactions say the same.
  await ann.reload();
  await openConversation(ann, 'Bob Baker');
  await expectChip(message(ann, 'Hello Bob'), '❤️', 1, false);
  await expectCount(byId(ann, id).getByTestId('reaction'), 0);
});
