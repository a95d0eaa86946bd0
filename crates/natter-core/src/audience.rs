//! Who receives a durable event.
//!
//! One rule for every path an event takes: the live fan-out, a WebSocket's backlog on resume and
//! `/sync`. A member sees the history after its join point only (API.md: "A member that joined
//! later sees only the seqs after its join point"), so an event about a message at or below that
//! point (its edit, its deletion, a status mark reaching no further) is withheld as surely as
//! the message itself, however late the event comes. A member removed and added again has the
//! join point of its last joining.

/// Where a member joined a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinPoint {
    /// The conversation's last seq then: the member sees only later seqs.
    pub seq: i64,
    /// The event log's head then: the member receives only the conversation's later events.
    pub pos: i64,
}

/// What a durable event is about, as far as its audience goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The conversation itself: created, renamed, its members or roles changed, the viewer
    /// removed. Carries no message.
    Conversation,
    /// One message, by seq: sent, edited, deleted (for everyone or for the viewer).
    Message { seq: i64 },
    /// A member's status mark moved up to `up_to_seq`: it concerns the messages at or below it.
    MarkUpTo { up_to_seq: i64 },
}

impl Subject {
    /// The highest seq the event tells about, if it is about messages at all.
    fn newest_seq(self) -> Option<i64> {
        match self {
            Subject::Conversation => None,
            Subject::Message { seq } => Some(seq),
            Subject::MarkUpTo { up_to_seq } => Some(up_to_seq),
        }
    }
}

/// Whether a viewer receives an event logged at `pos` in a conversation.
///
/// `joined` is the viewer's join point there, `None` when it is not a member (any more).
/// `to_viewer` says the event is addressed to the viewer alone (its own deletion "for me",
/// its removal); otherwise it is addressed to the conversation's members.
///
/// - An event about the conversation itself goes to the viewer it is addressed to, member or
///   not (a removed member learns of its removal), else to the members who joined before it
///   was logged.
/// - An event about messages goes only to a current member, only if addressed to it or logged
///   after it joined, and only if it concerns a seq the member can see: a message above its
///   join seq, or a mark reaching above it. A mark at or below the join seq concerns only
///   messages the viewer cannot see, so it is withheld too.
pub fn receives(joined: Option<JoinPoint>, to_viewer: bool, pos: i64, subject: Subject) -> bool {
    let in_time = to_viewer || joined.is_some_and(|j| pos > j.pos);
    let sees = match (subject.newest_seq(), joined) {
        (None, _) => true,
        (Some(seq), Some(j)) => seq > j.seq,
        (Some(_), None) => false,
    };
    in_time && sees
}

#[cfg(test)]
mod tests {
    use super::*;
    use Subject::*;

    /// Joined when the conversation's last seq was 5 and the log's head 100.
    const LATE: JoinPoint = JoinPoint { seq: 5, pos: 100 };

    #[test]
    fn conversation_events_go_to_members_who_joined_before_them() {
        assert!(receives(Some(LATE), false, 101, Conversation));
        assert!(!receives(Some(LATE), false, 100, Conversation));
        assert!(!receives(Some(LATE), false, 50, Conversation));
        assert!(!receives(None, false, 101, Conversation));
    }

    #[test]
    fn conversation_events_addressed_to_the_viewer_reach_it_member_or_not() {
        // Its removal reaches a member removed (and perhaps re-added since).
        assert!(receives(None, true, 50, Conversation));
        assert!(receives(Some(LATE), true, 50, Conversation));
    }

    #[test]
    fn events_about_a_message_from_before_the_join_are_withheld_whenever_logged() {
        for seq in [1, 5] {
            assert!(!receives(Some(LATE), false, 101, Message { seq }), "{seq}");
            assert!(
                !receives(Some(LATE), false, 1_000, Message { seq }),
                "{seq}"
            );
            assert!(!receives(Some(LATE), true, 101, Message { seq }), "{seq}");
        }
        assert!(receives(Some(LATE), false, 101, Message { seq: 6 }));
        assert!(receives(Some(LATE), true, 101, Message { seq: 6 }));
    }

    #[test]
    fn events_about_messages_need_a_current_member() {
        assert!(!receives(None, false, 101, Message { seq: 6 }));
        assert!(!receives(None, true, 101, Message { seq: 6 }));
        assert!(!receives(None, true, 101, MarkUpTo { up_to_seq: 6 }));
    }

    #[test]
    fn events_about_a_message_logged_before_the_join_are_withheld() {
        // Only a member re-added since could hold such a pair; its new join point rules.
        assert!(!receives(Some(LATE), false, 99, Message { seq: 6 }));
    }

    #[test]
    fn a_mark_is_withheld_unless_it_reaches_above_the_join_seq() {
        assert!(!receives(Some(LATE), false, 101, MarkUpTo { up_to_seq: 3 }));
        assert!(!receives(Some(LATE), false, 101, MarkUpTo { up_to_seq: 5 }));
        assert!(receives(Some(LATE), false, 101, MarkUpTo { up_to_seq: 6 }));
        // The viewer's own mark too: it tells of nothing the viewer can see.
        assert!(!receives(Some(LATE), true, 101, MarkUpTo { up_to_seq: 5 }));
    }

    #[test]
    fn a_founding_member_receives_everything_after_its_join() {
        let founder = JoinPoint { seq: 0, pos: 1 };
        for subject in [Conversation, Message { seq: 1 }, MarkUpTo { up_to_seq: 1 }] {
            assert!(receives(Some(founder), false, 2, subject), "{subject:?}");
        }
    }
}
