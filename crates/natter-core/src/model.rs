//! The domain's vocabulary: kinds of conversation, member roles, message kinds and statuses.

use crate::error::Error;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Direct (exactly two members, no name, no roles) or group.
    ConversationKind { Direct = "direct", Group = "group" }
}

string_enum! {
    /// A member's role. A direct conversation's two members are both `Member`.
    Role { Owner = "owner", Admin = "admin", Member = "member" }
}

string_enum! {
    MessageKind { Text = "text", Image = "image", File = "file" }
}

string_enum! {
    /// The aggregate status of a message over its recipients, in the order it only ever moves.
    MessageStatus { Sent = "sent", Delivered = "delivered", Read = "read" }
}

impl Role {
    /// Owners and admins manage a group: rename it, add and remove members.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What a message carries. Media bytes live elsewhere; a message only points at them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    Text {
        text: String,
    },
    Image {
        media_id: String,
        caption: Option<String>,
    },
    File {
        media_id: String,
        caption: Option<String>,
    },
}

impl MessageBody {
    pub fn kind(&self) -> MessageKind {
        match self {
            MessageBody::Text { .. } => MessageKind::Text,
            MessageBody::Image { .. } => MessageKind::Image,
            MessageBody::File { .. } => MessageKind::File,
        }
    }

    /// The text shown: the content of a text message, the caption of a media message.
    pub fn text(&self) -> Option<&str> {
        match self {
            MessageBody::Text { text } => Some(text),
            MessageBody::Image { caption, .. } | MessageBody::File { caption, .. } => {
                caption.as_deref()
            }
        }
    }

    pub fn media_id(&self) -> Option<&str> {
        match self {
            MessageBody::Text { .. } => None,
            MessageBody::Image { media_id, .. } | MessageBody::File { media_id, .. } => {
                Some(media_id)
            }
        }
    }

    /// Builds a body from the parts of a send request, checking that they fit the kind.
    /// `text` must already be validated (see [`crate::validate::message_text`]).
    pub fn from_parts(
        kind: MessageKind,
        text: Option<String>,
        media_id: Option<String>,
    ) -> Result<Self, Error> {
        match kind {
            MessageKind::Text => {
                if media_id.is_some() {
                    return Err(Error::invalid("a text message carries no media_id"));
                }
                let text = text.ok_or_else(|| Error::invalid("text is required"))?;
                Ok(MessageBody::Text { text })
            }
            MessageKind::Image | MessageKind::File => {
                let media_id = media_id.ok_or_else(|| {
                    Error::invalid(format!("media_id is required for kind {kind}"))
                })?;
                Ok(if kind == MessageKind::Image {
                    MessageBody::Image {
                        media_id,
                        caption: text,
                    }
                } else {
                    MessageBody::File {
                        media_id,
                        caption: text,
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(ConversationKind::parse("channel"), None);
    }

    #[test]
    fn statuses_are_ordered_sent_delivered_read() {
        assert!(MessageStatus::Sent < MessageStatus::Delivered);
        assert!(MessageStatus::Delivered < MessageStatus::Read);
    }

    #[test]
    fn text_body_needs_text_and_no_media() {
        assert!(MessageBody::from_parts(MessageKind::Text, None, None).is_err());
        assert!(
            MessageBody::from_parts(MessageKind::Text, Some("hi".into()), Some("m".into()))
                .is_err()
        );
        let b = MessageBody::from_parts(MessageKind::Text, Some("hi".into()), None).unwrap();
        assert_eq!(b.text(), Some("hi"));
        assert_eq!(b.media_id(), None);
    }

    #[test]
    fn media_bodies_need_media_and_take_an_optional_caption() {
        assert!(MessageBody::from_parts(MessageKind::Image, Some("x".into()), None).is_err());
        let b = MessageBody::from_parts(MessageKind::File, None, Some("m1".into())).unwrap();
        assert_eq!(b.kind(), MessageKind::File);
        assert_eq!(b.text(), None);
        assert_eq!(b.media_id(), Some("m1"));
        let b = MessageBody::from_parts(MessageKind::Image, Some("cap".into()), Some("m2".into()))
            .unwrap();
        assert_eq!(b.text(), Some("cap"));
    }
}
