// Two people in two browsers: register, start a direct chat, talk both ways; typing; ticks from
// sent to delivered to read; an image and a file; reply, edit, delete for everyone.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  attach,
  browserTest,
  button,
  composer,
  conversationItem,
  conversationNav,
  expectAbsent,
  expectAttr,
  expectCount,
  expectHidden,
  expectImageLoaded,
  expectText,
  expectValue,
  expectVisible,
  heading,
  makePng,
  message,
  messageAction,
  messages,
  openConversation,
  register,
  send,
  SLOW_TIMEOUT,
  startDirectChat,
  tick,
  timeline,
} from './harness.mjs';

browserTest('direct chat: messages both ways, typing, ticks, image, file, reply, edit, delete', async (w) => {
  const alice = await w.page('alice');
  await register(alice, 'alice', 'Alice Liddell');
  const bob = await w.page('bob');
  await register(bob, 'bob', 'Bob Dylan');

  // Bob keeps another conversation open, so that what Alice sends arrives but is not read.
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const zoe = await server.apiUser('zoe', 'Zoe Third');
  await startDirectChat(bob, 'zoe', 'Zoe Third');

  await startDirectChat(alice, 'bob', 'Bob Dylan');
  const hello = await send(alice, 'Hello Bob, it is Alice');
  // Sent, then delivered once Bob's client has it; not read while Bob looks at another chat.
  const bobsEntry = conversationItem(bob, 'Alice Liddell');
  await expectText(bobsEntry.getByTestId('unread-badge'), '1');
  await expectText(bobsEntry.getByTestId('preview'), 'Hello Bob, it is Alice');
  // Newest activity first.
  const bobsFirst = conversationNav(bob).getByTestId('conversation-item').first();
  await expectText(bobsFirst, 'Alice Liddell');
  await expectAttr(tick(hello), 'data-status', 'delivered');
  assert.equal(await tick(hello).getAttribute('data-status'), 'delivered', 'read before Bob opened the chat');
  assert.equal(await tick(hello).getAttribute('aria-label'), 'Delivered');

  // Bob opens it: Alice's tick turns to read, Bob's badge goes.
  await openConversation(bob, 'Alice Liddell');
  await expectVisible(message(bob, 'Hello Bob, it is Alice'));
  await expectAttr(message(bob, 'Hello Bob, it is Alice'), 'data-mine', 'false');
  await expectAttr(tick(hello), 'data-status', 'read');
  assert.equal(await tick(hello).getAttribute('aria-label'), 'Read');
  await expectHidden(bobsEntry.getByTestId('unread-badge'));

  // Bob types: Alice sees it; Bob sends (with Enter): the indicator goes and the message comes.
  await composer(bob).pressSequentially('Hi Al');
  const typing = alice.getByRole('main').getByTestId('typing');
  await expectText(typing, 'Bob Dylan is typing');
  assert.equal(await typing.getAttribute('role'), 'status');
  await composer(bob).pressSequentially('ice, Bob here');
  await composer(bob).press('Enter');
  await expectVisible(message(bob, 'Hi Alice, Bob here'));
  await expectVisible(message(alice, 'Hi Alice, Bob here'));
  await expectHidden(typing);
  await expectAttr(tick(message(bob, 'Hi Alice, Bob here')), 'data-status', 'read');
  // Shift+Enter is a new line, not a send.
  await composer(alice).pressSequentially('line one');
  await composer(alice).press('Shift+Enter');
  await composer(alice).pressSequentially('line two');
  await expectValue(composer(alice), 'line one\nline two');
  await composer(alice).press('Enter');
  await expectVisible(message(bob, 'line two'));
  await expectAttr(tick(message(alice, 'line two')), 'data-status', 'read');

  // An image: previewed, sent, and a thumbnail on both sides.
  const png = makePng();
  await attach(alice, { name: 'stripes.png', mimeType: 'image/png', buffer: png });
  for (const page of [alice, bob]) {
    const thumb = timeline(page).getByTestId('thumbnail');
    await expectImageLoaded(thumb.first());
    assert.equal(await thumb.count(), 1);
    assert.match((await thumb.first().getAttribute('alt')) ?? '', /stripes\.png|Image/);
  }

  // A click on the thumbnail shows the full image.
  await timeline(bob).getByTestId('thumbnail').first().click();
  const viewer = bob.getByRole('dialog').filter({ has: bob.getByRole('img') });
  await expectImageLoaded(viewer.getByRole('img').first());
  await bob.keyboard.press('Escape');
  await expectHidden(viewer);

  // A file: name and a download button on both sides; Bob downloads the same bytes.
  // The upload is held at the network until its progress bar has been seen.
  const body = Buffer.from('natter file test\n'.repeat(20));
  /** @type {() => void} */
  let release = () => {};
  const held = new Promise((r) => (release = () => r(undefined)));
  await alice.route('**/api/v1/media?*', async (route) => {
    if (route.request().method() === 'POST') await held;
    await route.fallback();
  });
  await attach(alice, { name: 'notes.txt', mimeType: 'text/plain', buffer: body });
  const progress = alice.getByRole('progressbar');
  await expectVisible(progress);
  release();
  await expectHidden(progress);
  await alice.unrouteAll();
  for (const page of [alice, bob]) {
    const file = timeline(page).getByTestId('file');
    await expectText(file, 'notes.txt');
  }
  const bobsFile = timeline(bob).getByTestId('file').first();
  const download = bob.waitForEvent('download');
  await bobsFile
    .getByRole('button', { name: /download/i })
    .or(bobsFile.getByRole('link', { name: /download/i }))
    .first()
    .click();
  const got = await download;
  assert.equal(got.suggestedFilename(), 'notes.txt');
  assert.deepEqual(readFileSync(/** @type {string} */ (await got.path())), body);

  // Reply: Alice quotes Bob's message; both see the quote.
  await messageAction(message(alice, 'Hi Alice, Bob here'), 'Reply');
  await expectText(alice.getByRole('main'), 'Hi Alice, Bob here');
  const reply = await send(alice, 'Replying to you, Bob');
  await expectText(reply.getByTestId('reply-quote'), 'Hi Alice, Bob here');
  await expectText(message(bob, 'Replying to you, Bob').getByTestId('reply-quote'), 'Hi Alice, Bob here');

  // Edit: the text goes into the composer; Save; both see the new text.
  const typo = await send(alice, 'This has a tpyo');
  await expectVisible(message(bob, 'This has a tpyo'));
  await messageAction(typo, 'Edit');
  await expectValue(composer(alice), 'This has a tpyo');
  await composer(alice).fill('This had a typo');
  await button(alice.getByRole('main'), 'Save').click();
  for (const page of [alice, bob]) {
    await expectVisible(message(page, 'This had a typo'));
    await expectCount(message(page, 'This has a tpyo'), 0);
  }

  // Delete for everyone: gone on both sides (the seq may stay as a tombstone).
  const oops = await send(alice, 'Oops, wrong chat');
  await expectVisible(message(bob, 'Oops, wrong chat'));
  const seq = await oops.getAttribute('data-seq');
  await messageAction(oops, 'Delete for everyone');
  for (const page of [alice, bob]) {
    await expectCount(message(page, 'Oops, wrong chat'), 0);
    await expectAbsent(timeline(page).getByText('Oops, wrong chat'), 'the deleted text');
  }
  assert.ok(seq, 'messages carry data-seq');

  await expectVisible(timeline(alice).getByTestId('day-separator').first());

  // Both ends hold the same conversation: the same seqs, no doubles.
  const seqs = async (page) => messages(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-seq')));
  const a = await seqs(alice);
  assert.deepEqual(await seqs(bob), a);
  assert.equal(new Set(a).size, a.length, `duplicate seqs: ${a}`);
  await expectVisible(heading(alice, 'Bob Dylan'));

  // Message info: per recipient, read with a time.
  await messageAction(message(alice, 'Hello Bob, it is Alice'), 'Message info');
  const info = alice.getByRole('dialog').filter({ has: alice.getByTestId('receipt') });
  const receipt = info.getByTestId('receipt');
  await expectText(receipt, 'Bob Dylan');
  await expectText(info, 'Read');
  await alice.keyboard.press('Escape');
  await expectHidden(receipt);

  // A message from Zoe moves her chat to the top of Bob's list, with a badge.
  const zoesChat = (await server.api('GET', '/conversations', zoe.token)).conversations[0];
  await server.api('POST', `/conversations/${zoesChat.id}/messages`, zoe.token, { text: 'Zoe pings Bob' });
  await expectText(bobsFirst, 'Zoe Third');
  await expectText(bobsFirst.getByTestId('unread-badge'), '1');
  await expectText(bobsFirst.getByTestId('preview'), 'Zoe pings Bob');

  // Delete for me: Bob hides one of Alice's messages; Alice still has it.
  await messageAction(message(bob, 'Replying to you, Bob'), 'Delete for me');
  await expectCount(message(bob, 'Replying to you, Bob'), 0);
  await expectVisible(message(alice, 'Replying to you, Bob'));

  // Presence: each sees the other online, in the list and in the header ...
  await expectAttr(conversationItem(bob, 'Alice Liddell').getByTestId('presence-dot'), 'data-online', 'true');
  await expectText(bob.getByTestId('header-presence'), 'online');
  const dot = conversationItem(alice, 'Bob Dylan').getByTestId('presence-dot');
  await expectAttr(dot, 'data-online', 'true');
  await expectText(alice.getByTestId('header-presence'), 'online');
  // ... and Bob closes his browser: Alice sees him go offline (the server waits 5 s for a comeback).
  await bob.context().close();
  await expectAttr(dot, 'data-online', 'false', SLOW_TIMEOUT);
  await expectText(alice.getByTestId('header-presence'), 'last seen');
});
