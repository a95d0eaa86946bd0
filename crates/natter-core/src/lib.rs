//! natter's domain: the rules of conversations, members, messages and receipts.
//!
//! This crate does no I/O, owns no async runtime and knows no framework: every rule here is a
//! plain function over plain values, so that each can be unit-tested in isolation and every
//! storage adapter and transport applies exactly the same rule.

pub mod audience;
pub mod decide;
pub mod error;
pub mod ids;
pub mod limits;
pub mod mentions;
pub mod model;
pub mod notify;
pub mod receipts;
pub mod rules;
pub mod search;
pub mod time;
pub mod validate;

pub use error::{Error, Result};
pub use ids::{ConversationId, MediaId, MessageId, SessionId, UserId};
pub use limits::Limits;
pub use model::{ConversationKind, MessageBody, MessageKind, MessageStatus, Role};
