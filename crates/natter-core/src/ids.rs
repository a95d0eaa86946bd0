//! Typed ids: a user's id and a conversation's id are both strings, but one must never stand
//! where the other is expected.
//!
//! Each type here is a borrowed, unsized newtype over `str` (`&UserId` is a `&str` with another
//! name), not an owned `String` wrapper: callers hold the ids as `String`s, taken from requests
//! and from stored rows, and wrapping a `&str` as `UserId::new(&s)` costs nothing, copies
//! nothing and changes no row type. There is deliberately no `Deref` to `str`, so the types stay
//! distinct; [`as_str`](UserId::as_str) unwraps one where a plain string is needed (binding it
//! to a statement, say).
//!
//! A `&UserId` is not a `&ConversationId`:
//!
//! ```compile_fail
//! use natter_core::ids::{ConversationId, UserId};
//!
//! fn members_of(conversation_id: &ConversationId) -> &str {
//!     conversation_id.as_str()
//! }
//!
//! members_of(UserId::new("u1"));
//! ```
//!
//! while the right one compiles:
//!
//! ```
//! use natter_core::ids::{ConversationId, UserId};
//!
//! fn members_of(conversation_id: &ConversationId) -> &str {
//!     conversation_id.as_str()
//! }
//!
//! assert_eq!(members_of(ConversationId::new("c1")), "c1");
//! # let _ = UserId::new("u1");
//! ```

use std::fmt;

use ref_cast::RefCast;

/// Defines each id type: a `#[repr(transparent)]` newtype over `str`, made from a `&str` by
/// [`RefCast`], with the same equality, hash, `Display` and `Debug` as the string it wraps.
macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(RefCast, PartialEq, Eq, Hash)]
        #[repr(transparent)]
        pub struct $name(str);

        impl $name {
            /// Wraps `s` as this kind of id; nothing is copied or checked.
            pub fn new(s: &str) -> &Self {
                Self::ref_cast(s)
            }

            /// The id as a plain string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

id_types! {
    /// A user's id.
    UserId;
    /// A conversation's id.
    ConversationId;
    /// A message's id (the server's, not the client's `client_id`).
    MessageId;
    /// A device session's id.
    SessionId;
    /// An uploaded media's id.
    MediaId;
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn wraps_and_unwraps_the_same_string() {
        assert_eq!(UserId::new("u1").as_str(), "u1");
        let owned = String::from("c1");
        let id = ConversationId::new(&owned);
        assert!(std::ptr::eq(id.as_str(), owned.as_str()));
        assert_eq!(AsRef::<str>::as_ref(MediaId::new("m1")), "m1");
    }

    #[test]
    fn displays_and_debugs_as_the_string() {
        assert_eq!(UserId::new("u1").to_string(), "u1");
        assert_eq!(format!("{}", MessageId::new("m 1")), "m 1");
        assert_eq!(format!("{:?}", SessionId::new("s1")), "\"s1\"");
    }

    #[test]
    fn equal_and_hashed_as_the_string() {
        assert_eq!(UserId::new("u1"), UserId::new(&String::from("u1")));
        assert_ne!(UserId::new("u1"), UserId::new("u2"));
        let set: HashSet<&UserId> = ["a", "b", "a"].into_iter().map(UserId::new).collect();
        assert_eq!(set.len(), 2);
    }
}
