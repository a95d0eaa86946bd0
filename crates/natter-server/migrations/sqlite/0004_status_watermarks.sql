-- The conversation's status watermarks (every message at or below all_read_seq that has
-- recipients is read by all of them; all_delivered_seq likewise for delivery), kept so that
-- they never move backwards, and the member count, which decides who hears of a member's marks.
ALTER TABLE conversations ADD COLUMN all_delivered_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN all_read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;

-- The lowest of these over a conversation's members is its watermark (natter_core::receipts):
-- indexed, so that a mark in a large group finds it without reading every member.
CREATE INDEX members_delivered_watermark ON members (conversation_id, MAX(joined_seq, delivered_seq));
CREATE INDEX members_read_watermark ON members (conversation_id, MAX(joined_seq, read_seq));

UPDATE conversations SET
    member_count = (SELECT COUNT(*) FROM members m WHERE m.conversation_id = conversations.id),
    all_delivered_seq = COALESCE(
        (SELECT MIN(MAX(m.joined_seq, m.delivered_seq)) FROM members m
          WHERE m.conversation_id = conversations.id), last_seq),
    all_read_seq = COALESCE(
        (SELECT MIN(MAX(m.joined_seq, m.read_seq)) FROM members m
          WHERE m.conversation_id = conversations.id), last_seq);
