// A long conversation: the newest messages first, older ones loaded when scrolled up, without
// the view jumping; in the end every message exactly once.

import assert from 'node:assert/strict';

import {
  browserTest,
  expectCount,
  expectVisible,
  message,
  messages,
  openConversation,
  logIn,
  timeline,
} from './harness.mjs';

const TOTAL = 130;
const label = (i) => `history ${String(i).padStart(3, '0')}`;

browserTest('history: older messages load when scrolled up, without a jump, none twice', async (w) => {
  const server = /** @type {import('./harness.mjs').Server} */ (w.server);
  const olga = await server.apiUser('olga', 'Olga Archive');
  const pat = await server.apiUser('pat', 'Pat Reader');
  const conv = await server.api('POST', '/conversations', olga.token, { type: 'direct', user_id: pat.user.id });
  // Both write, in turns; Pat has read it all (else the client loads every unread message at once).
  let last;
  for (let i = 1; i <= TOTAL; i++) {
    const token = i % 2 ? olga.token : pat.token;
    last = await server.api('POST', `/conversations/${conv.id}/messages`, token, { text: label(i) });
  }
  await server.api('PUT', `/messages/${last.id}/read`, pat.token);
  const page = await w.page('pat');
  await logIn(page, 'pat');

  await openConversation(page, 'Olga Archive');
  await expectVisible(message(page, label(TOTAL)));
  const first = await messages(page).count();
  assert.ok(first < TOTAL, `all ${TOTAL} messages were loaded at once`);

  // Scroll up with the wheel until older messages come; the message that was on top stays in view.
  const log = timeline(page);
  const box = await log.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let loaded = first; loaded < TOTAL; ) {
    const top = messages(page).first();
    const topSeq = await top.getAttribute('data-seq');
    await page.mouse.wheel(0, -20000);
    await messages(page).nth(loaded).waitFor({ state: 'attached' });
    const now = await messages(page).count();
    assert.ok(now > loaded);
    // No jump: the old top message is still on screen, inside the timeline.
    const was = page.getByTestId('message').and(page.locator(`[data-seq="${topSeq}"]`));
    const b = await was.boundingBox();
    const view = await log.boundingBox();
    assert.ok(b && view, 'the old top message is gone');
    assert.ok(
      b.y + b.height > view.y && b.y < view.y + view.height,
      `the view jumped: message ${topSeq} at y=${b.y} outside the timeline ${view.y}..${view.y + view.height}`,
    );
    loaded = now;
  }
  await expectVisible(message(page, label(1)));
  await expectCount(messages(page), TOTAL);
  const seqs = await messages(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  assert.deepEqual(seqs, Array.from({ length: TOTAL }, (_, i) => i + 1));
});
