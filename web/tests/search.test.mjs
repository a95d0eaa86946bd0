// Message search: a word found in two conversations, with the match marked in each snippet; a
// prefix finds too; a result opens its conversation at the message, loading older history
// first; a message deleted for everyone is not found any more, and an edited one only by its
// new words.

import assert from 'node:assert/strict';

import {
  browserTest,
  conversationItem,
  expectCount,
  expectText,
  expectVisible,
  heading,
  logIn,
  message,
  openConversation,
  timeline,
} from './harness.mjs';

/** @param {import('playwright-core').Page} page */
const searchBox = (page) => page.getByRole('searchbox', { name: 'Search messages' });
/** @param {import('playwright-core').Page} page */
const results = (page) => page.getByRole('region', { name: 'Search results' }).getByTestId('search-result');

/** Searches (again) for `q`. @param {import('playwright-core').Page} page @param {string} q */
async function search(page, q) {
  await searchBox(page).fill('');
  await searchBox(page).fill(q);
}

browserTest('search: two conversations, prefix, open at the message, deleted and edited', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const ann = await server.apiUser('ann', 'Ann Able');
  const bob = await server.apiUser('bob', 'Bob Baker');
  const cal = await server.apiUser('cal', 'Cal Cole');
  const withBob = await server.api('POST', '/conversations', ann.token, { type: 'direct', user_id: bob.user.id });
  const withCal = await server.api('POST', '/conversations', ann.token, { type: 'direct', user_id: cal.user.id });
  /** @param {{token: string}} who @param {{id: string}} conv @param {string} text */
  const say = (who, conv, text) => server.api('POST', `/conversations/${conv.id}/messages`, who.token, { text });

  const pizza = await say(bob, withBob, 'The pineapple pizza was <great> & cheap');
  // Enough after it that opening the chat does not load it.
  for (let i = 1; i <= 80; i++) await say(i % 2 ? ann : bob, withBob, `Filler message number ${i}`);
  const bring = await say(ann, withCal, 'Bring a pineapple tomorrow');
  await say(cal, withCal, 'Sure, anything else?');

  const page = await w.page('ann');
  await logIn(page, 'ann');
  await expectVisible(conversationItem(page, 'Cal Cole'));

  // A word: both conversations, newest first, the match marked; the text is shown as text.
  await search(page, 'pineapple');
  await expectCount(results(page), 2);
  const first = results(page).nth(0);
  const second = results(page).nth(1);
  await expectText(first.getByTestId('result-conversation'), 'Cal Cole');
  await expectText(first.getByTestId('result-sender'), 'You');
  // Bob's own message in the chat with Bob: his name once, not twice.
  await expectText(second.getByTestId('result-sender'), 'Bob Baker');
  await expectCount(second.getByTestId('result-conversation'), 0);
  await expectText(second.getByTestId('snippet'), '<great> & cheap');
  for (const r of [first, second]) {
    await expectText(r.getByTestId('snippet').locator('mark').first(), 'pineapple');
  }
  assert.equal(await page.getByRole('region', { name: 'Search results' }).locator('mark').count(), 2);
  // Nothing from the snippet became markup of its own.
  assert.equal(await second.getByTestId('snippet').locator('great').count(), 0);
  await expectText(page.getByRole('region', { name: 'Search results' }).getByRole('status'), '2 messages found');

  // A prefix of the last word finds the same.
  await search(page, 'pinea');
  await expectCount(results(page), 2);
  await search(page, 'pizza pine');
  await expectCount(results(page), 1);

  // Many matches come a page at a time: "Load more" brings the next.
  await search(page, 'filler');
  await expectCount(results(page), 20);
  await expectText(page.getByRole('region', { name: 'Search results' }).getByRole('status'), '20+ messages found');
  await expectText(results(page).first().getByTestId('snippet'), 'number 80');
  await page.getByRole('button', { name: 'Load more', exact: true }).click();
  await expectCount(results(page), 40);
  await expectText(results(page).nth(20).getByTestId('snippet'), 'number 60');

  // A result opens its conversation scrolled to the message (history loaded back to it).
  await search(page, 'pineapple');
  await expectCount(results(page), 2);
  await results(page).filter({ hasText: 'Bob Baker' }).getByRole('button').click();
  await expectVisible(heading(page, 'Bob Baker'));
  const target = timeline(page).locator(`[data-message-id="${pizza.id}"]`);
  await expectVisible(target);
  await page.waitForFunction((id) => {
    const el = document.querySelector(`[role="log"] [data-testid="message"][data-message-id="${id}"]`);
    const box = el?.closest('[role="log"]')?.getBoundingClientRect();
    const r = el?.getBoundingClientRect();
    return !!(box && r && r.top >= box.top - 1 && r.bottom <= box.bottom + 1);
  }, pizza.id);
  // The history between it and the newest is there, every message once.
  await expectVisible(message(page, 'Filler message number 80'));
  const seqs = await timeline(page).getByTestId('message').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  assert.equal(new Set(seqs).size, seqs.length, 'every message once');
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'no gap in the history');

  // The results stay; narrowed to this conversation, one is left.
  await expectCount(results(page), 2);
  await page.getByRole('checkbox', { name: 'In this conversation only' }).check();
  await expectCount(results(page), 1);
  await expectText(results(page).first().getByTestId('result-sender'), 'Bob Baker');
  await page.getByRole('checkbox', { name: 'In this conversation only' }).uncheck();
  await expectCount(results(page), 2);

  // Deleted for everyone: not found any more.
  await server.api('DELETE', `/messages/${pizza.id}`, bob.token);
  await search(page, 'pineapple');
  await expectCount(results(page), 1);
  await expectText(results(page).first().getByTestId('result-conversation'), 'Cal Cole');

  // Edited: found by its new word only.
  await server.api('PATCH', `/messages/${bring.id}`, ann.token, { text: 'Bring a mango tomorrow' });
  await search(page, 'pineapple');
  await expectText(page.getByRole('region', { name: 'Search results' }).getByRole('status'), 'No messages found');
  await expectCount(results(page), 0);
  await search(page, 'mang');
  await expectCount(results(page), 1);
  await expectText(results(page).first().getByTestId('snippet').locator('mark'), 'mang');

  // Opening a result of another conversation from there.
  await results(page).first().getByRole('button').click();
  await expectVisible(heading(page, 'Cal Cole'));
  await expectVisible(message(page, 'Bring a mango tomorrow'));
  // Escape clears the search.
  await searchBox(page).press('Escape');
  await expectCount(results(page), 0);
  await openConversation(page, 'Bob Baker');
}, { timeout: 90_000 });
