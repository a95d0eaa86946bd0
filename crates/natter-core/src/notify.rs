//! Who is notified of a message while away, and what a notification may show.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::MessageKind;

/// The longest preview, in user-perceived characters (before the `…`).
pub const PREVIEW_MAX: usize = 120;

/// What decides whether one member that is away gets a push for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Away {
    /// Do not disturb until then (ms), if set.
    pub dnd_until: Option<i64>,
    /// The conversation is muted until then (ms), if it is.
    pub muted_until: Option<i64>,
    /// The message mentions the member.
    pub mentioned: bool,
    /// The message replies to one of the member's messages.
    pub replied: bool,
    /// The member wants mentions pushed from muted conversations.
    pub mentions_when_muted: bool,
}

/// Whether the member gets a push at `now`: never in do not disturb; from a muted
/// conversation only when mentioned or replied to, and it chose so; otherwise always.
pub fn pushes(away: Away, now: i64) -> bool {
    if away.dnd_until.is_some_and(|until| until > now) {
        return false;
    }
    match away.muted_until {
        Some(until) if until > now => (away.mentioned || away.replied) && away.mentions_when_muted,
        _ => true,
    }
}

/// The preview of a message for a notification: the start of its text (or caption), cut at a
/// character boundary with `…`; for media without one, what it is.
pub fn preview(kind: MessageKind, text: Option<&str>) -> String {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    match (text, kind) {
        (Some(t), _) => {
            let flat: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut cut = flat.grapheme_indices(true).skip(PREVIEW_MAX);
            match cut.next() {
                Some((at, _)) => format!("{}…", &flat[..at]),
                None => flat,
            }
        }
        (None, MessageKind::Image) => "📷 Photo".into(),
        (None, MessageKind::File) => "📎 File".into(),
        (None, MessageKind::Text) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn away() -> Away {
        Away {
            dnd_until: None,
            muted_until: None,
            mentioned: false,
            replied: false,
            mentions_when_muted: true,
        }
    }

    #[test]
    fn an_away_member_is_pushed_unless_dnd_or_muted() {
        assert!(pushes(away(), NOW));
        let dnd = Away {
            dnd_until: Some(NOW + 1),
            mentioned: true,
            ..away()
        };
        assert!(!pushes(dnd, NOW));
        let dnd_over = Away {
            dnd_until: Some(NOW),
            ..away()
        };
        assert!(pushes(dnd_over, NOW));
        let muted = Away {
            muted_until: Some(NOW + 1),
            ..away()
        };
        assert!(!pushes(muted, NOW));
        let mute_over = Away {
            muted_until: Some(NOW),
            ..away()
        };
        assert!(pushes(mute_over, NOW));
    }

    #[test]
    fn a_reply_counts_as_a_mention_in_a_muted_conversation() {
        let muted = Away {
            muted_until: Some(i64::MAX),
            replied: true,
            ..away()
        };
        assert!(pushes(muted, NOW));
        assert!(!pushes(
            Away {
                mentions_when_muted: false,
                ..muted
            },
            NOW
        ));
        assert!(!pushes(
            Away {
                dnd_until: Some(NOW + 1),
                ..muted
            },
            NOW
        ));
    }

    #[test]
    fn a_mention_in_a_muted_conversation_pushes_if_the_member_chose_so() {
        let muted = Away {
            muted_until: Some(i64::MAX),
            mentioned: true,
            ..away()
        };
        assert!(pushes(muted, NOW));
        let quiet = Away {
            mentions_when_muted: false,
            ..muted
        };
        assert!(!pushes(quiet, NOW));
    }

    #[test]
    fn previews_are_cut_at_character_boundaries() {
        assert_eq!(
            preview(MessageKind::Text, Some("  hi\n there ")),
            "hi there"
        );
        let long = "é".repeat(PREVIEW_MAX + 5);
        let p = preview(MessageKind::Text, Some(&long));
        assert_eq!(p, format!("{}…", "é".repeat(PREVIEW_MAX)));
        let exact = "x".repeat(PREVIEW_MAX);
        assert_eq!(preview(MessageKind::Text, Some(&exact)), exact);
        let flags = "🇫🇷".repeat(PREVIEW_MAX + 1);
        assert_eq!(
            preview(MessageKind::Text, Some(&flags)),
            format!("{}…", "🇫🇷".repeat(PREVIEW_MAX))
        );
        assert_eq!(preview(MessageKind::Image, None), "📷 Photo");
        assert_eq!(preview(MessageKind::File, Some(" ")), "📎 File");
        assert_eq!(preview(MessageKind::Image, Some("look")), "look");
    }
}
