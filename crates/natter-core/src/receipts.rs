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
}
