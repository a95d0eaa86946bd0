//! Receipts as per-member watermarks.
//!
//! Each member keeps `delivered_seq` and `read_seq`: message `n` is delivered to (read by) a
//! member iff its `delivered_seq` (`read_seq`) is at least `n`. Marks only move forward, and
//! reading implies delivery, so `read_seq <= delivered_seq` always holds.

use crate::MessageStatus;

/// One member's marks in one conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    pub delivered_seq: i64,
    pub read_seq: i64,
}

/// Which marks a request moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub delivered: bool,
    pub read: bool,
}

impl Marks {
    /// Marks everything up to `seq` delivered. An older mark changes nothing.
    pub fn mark_delivered(&mut self, seq: i64) -> Moved {
        let delivered = seq > self.delivered_seq;
        if delivered {
            self.delivered_seq = seq;
        }
        Moved {
            delivered,
            read: false,
        }
    }

    /// Marks everything up to `seq` read, and so delivered too.
    pub fn mark_read(&mut self, seq: i64) -> Moved {
        let Moved { delivered, .. } = self.mark_delivered(seq);
        let read = seq > self.read_seq;
        if read {
            self.read_seq = seq;
        }
        Moved { delivered, read }
    }

    /// This member's own status for message `seq`.
    pub fn status_of(&self, seq: i64) -> MessageStatus {
        if self.read_seq >= seq {
            MessageStatus::Read
        } else if self.delivered_seq >= seq {
            MessageStatus::Delivered
        } else {
            MessageStatus::Sent
        }
    }
}

/// Whether a member counts as a recipient of message `seq` from `sender_id`: anyone but the
/// sender who was already a member when it was sent (joined at a lower seq).
pub fn is_recipient(member_id: &str, joined_seq: i64, sender_id: &str, seq: i64) -> bool {
    member_id != sender_id && joined_seq < seq
}

/// The aggregate status of message `seq` over its recipients' marks: `read` when all have read
/// it, `delivered` when all have at least received it, else `sent` (also with no recipients).
pub fn aggregate(seq: i64, recipients: impl IntoIterator<Item = Marks>) -> MessageStatus {
    let mut any = false;
    let mut lowest = MessageStatus::Read;
    for m in recipients {
        any = true;
        lowest = lowest.min(m.status_of(seq));
        if lowest == MessageStatus::Sent {
            break;
        }
    }
    if any { lowest } else { MessageStatus::Sent }
}

/// The conversation's status watermarks: every message at or below `all_read_seq` that has
/// recipients is read by all of them (at or below `all_delivered_seq`, at least delivered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermarks {
    pub all_delivered_seq: i64,
    pub all_read_seq: i64,
}

/// Conversations of up to this many members tell every member of each member's marks
/// (`message_status`, for live "seen by"); larger ones tell only the member's own devices, and
/// everyone learns of the conversation's [`Watermarks`] instead.
pub const STATUS_TO_EVERYONE_MAX_MEMBERS: usize = 32;

/// Whether a member's `message_status` goes to every member (else to its own devices only).
pub fn status_to_everyone(member_count: usize) -> bool {
    member_count <= STATUS_TO_EVERYONE_MAX_MEMBERS
}

/// How far one member holds the watermarks back: its marks, raised to its join point (it is a
/// recipient of no message at or below it).
///
/// Why the lowest of these over the current members is the watermark: a member's own messages
/// are all at or below its read mark (sending marks everything up to the message read for its
/// sender), so the first message above a member's mark is always one it is a recipient of and
/// has not read; and every message above every member's mark has at least one such recipient
/// below it. The SQL adapters keep this expression indexed, so that the lowest is found
/// without reading every member.
pub fn member_watermarks(joined_seq: i64, marks: Marks) -> Watermarks {
    Watermarks {
        all_delivered_seq: marks.delivered_seq.max(joined_seq),
        all_read_seq: marks.read_seq.max(joined_seq),
    }
}

/// The watermarks of a conversation whose last seq is `last_seq`, from its current members'
/// join points and marks.
pub fn watermarks(last_seq: i64, members: impl IntoIterator<Item = (i64, Marks)>) -> Watermarks {
    members.into_iter().fold(
        Watermarks {
            all_delivered_seq: last_seq,
            all_read_seq: last_seq,
        },
        |w, (joined_seq, marks)| {
            let m = member_watermarks(joined_seq, marks);
            Watermarks {
                all_delivered_seq: w.all_delivered_seq.min(m.all_delivered_seq),
                all_read_seq: w.all_read_seq.min(m.all_read_seq),
            }
        },
    )
}

/// The watermarks after a change that computed `now`: they never move backwards. `Some` when
/// either moved (a `conversation_status` event is due), with the values to keep.
pub fn advance(before: Watermarks, now: Watermarks) -> Option<Watermarks> {
    let after = Watermarks {
        all_delivered_seq: before.all_delivered_seq.max(now.all_delivered_seq),
        all_read_seq: before.all_read_seq.max(now.all_read_seq),
    };
    (after != before).then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageStatus::*;
    use proptest::prelude::*;

    fn marks(d: i64, r: i64) -> Marks {
        Marks {
            delivered_seq: d,
            read_seq: r,
        }
    }

    #[test]
    fn marks_never_move_backwards() {
        let mut m = marks(5, 3);
        assert_eq!(m.mark_delivered(4), Moved::default());
        assert_eq!(m.mark_read(2), Moved::default());
        assert_eq!(m, marks(5, 3));
    }

    #[test]
    fn read_implies_delivered() {
        let mut m = Marks::default();
        assert_eq!(
            m.mark_read(7),
            Moved {
                delivered: true,
                read: true
            }
        );
        assert_eq!(m, marks(7, 7));
        let mut m = marks(9, 1);
        assert_eq!(
            m.mark_read(4),
            Moved {
                delivered: false,
                read: true
            }
        );
        assert_eq!(m, marks(9, 4));
    }

    #[test]
    fn member_status() {
        let m = marks(5, 3);
        assert_eq!(m.status_of(3), Read);
        assert_eq!(m.status_of(4), Delivered);
        assert_eq!(m.status_of(6), Sent);
    }

    #[test]
    fn recipients_exclude_the_sender_and_later_joiners() {
        assert!(is_recipient("b", 0, "a", 1));
        assert!(!is_recipient("a", 0, "a", 1));
        // Joined when the last seq was 4: sees 5 on, so 4 was not sent to it.
        assert!(!is_recipient("c", 4, "a", 4));
        assert!(is_recipient("c", 4, "a", 5));
    }

    #[test]
    fn aggregate_is_the_least_advanced_recipient() {
        assert_eq!(aggregate(3, []), Sent);
        assert_eq!(aggregate(3, [marks(3, 3), marks(3, 3)]), Read);
        assert_eq!(aggregate(3, [marks(3, 3), marks(3, 0)]), Delivered);
        assert_eq!(aggregate(3, [marks(9, 9), marks(2, 2)]), Sent);
    }

    proptest! {
        #[test]
        fn invariants_hold_under_any_sequence_of_marks(ops in proptest::collection::vec((any::<bool>(), 0i64..50), 0..40)) {
            let mut m = Marks::default();
            for (read, seq) in ops {
                let before = m;
                if read { m.mark_read(seq); } else { m.mark_delivered(seq); }
                prop_assert!(m.read_seq <= m.delivered_seq);
                prop_assert!(m.read_seq >= before.read_seq && m.delivered_seq >= before.delivered_seq);
                if read { prop_assert!(m.read_seq >= seq); } else { prop_assert!(m.delivered_seq >= seq); }
            }
        }
    }

    #[test]
    fn status_goes_to_everyone_up_to_32_members() {
        assert!(status_to_everyone(1));
        assert!(status_to_everyone(32));
        assert!(!status_to_everyone(33));
    }

    #[test]
    fn watermarks_never_move_backwards() {
        let w = |d, r| Watermarks {
            all_delivered_seq: d,
            all_read_seq: r,
        };
        assert_eq!(advance(w(5, 3), w(4, 2)), None);
        assert_eq!(advance(w(5, 3), w(5, 3)), None);
        assert_eq!(advance(w(5, 3), w(6, 2)), Some(w(6, 3)));
        assert_eq!(advance(w(5, 3), w(5, 4)), Some(w(5, 4)));
    }

    /// A conversation's history: who sent each seq, and for each member when it joined and
    /// how far it marked, kept as the server keeps them (a sender's read mark covers its own
    /// messages; marks are capped at the last seq; read implies delivered).
    fn history() -> impl Strategy<Value = (Vec<usize>, Vec<(i64, Marks)>)> {
        (1usize..6, 0usize..12).prop_flat_map(|(members, messages)| {
            (
                proptest::collection::vec(0..members, messages),
                proptest::collection::vec((0i64..=messages as i64, 0i64..=12, 0i64..=12), members),
            )
                .prop_map(move |(senders, raw)| {
                    let last = senders.len() as i64;
                    let mut members: Vec<(i64, Marks)> = raw
                        .into_iter()
                        .map(|(joined, d, r)| {
                            let read = r.min(last);
                            let delivered = d.min(last).max(read);
                            (joined.min(last), marks(delivered, read))
                        })
                        .collect();
                    // A member sends only after joining; sending marks read for the sender.
                    let senders: Vec<usize> = senders
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let seq = i as i64 + 1;
                            if members[s].0 < seq {
                                s
                            } else {
                                members.iter().position(|m| m.0 < seq).unwrap_or(usize::MAX)
                            }
                        })
                        .collect();
                    for (i, &s) in senders.iter().enumerate() {
                        if let Some(m) = members.get_mut(s) {
                            m.1.mark_read(i as i64 + 1);
                        }
                    }
                    (senders, members)
                })
        })
    }

    proptest! {
        /// The watermarks agree with each message's aggregate status, and are the highest that
        /// do.
        #[test]
        fn watermarks_agree_with_every_message_status((senders, members) in history()) {
            let last = senders.len() as i64;
            let w = watermarks(last, members.iter().copied());
            let status = |seq: i64| {
                let sender = senders[seq as usize - 1];
                let recipients: Vec<Marks> = members
                    .iter()
                    .enumerate()
                    .filter(|(i, (joined, _))| *i != sender && *joined < seq)
                    .map(|(_, (_, m))| *m)
                    .collect();
                (!recipients.is_empty()).then(|| aggregate(seq, recipients))
            };
            for seq in 1..=last {
                match status(seq) {
                    Some(s) if seq <= w.all_read_seq => prop_assert_eq!(s, Read),
                    Some(s) if seq <= w.all_delivered_seq => prop_assert!(s >= Delivered),
                    _ => {}
                }
            }
            if w.all_read_seq < last {
                prop_assert!(status(w.all_read_seq + 1).is_some_and(|s| s != Read));
            }
            if w.all_delivered_seq < last {
                prop_assert_eq!(status(w.all_delivered_seq + 1), Some(Sent));
            }
        }
    }
}
