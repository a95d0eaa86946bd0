//! The conformance cases, one module per area of the `Store` trait. Every case takes a fresh,
//! empty store and uses nothing but the trait.

pub mod admin;
pub mod blocks;
pub mod changes;
pub mod direct;
pub mod events;
pub mod faults;
pub mod groups;
pub mod history;
pub mod marks;
pub mod media;
pub mod notify;
pub mod operations;
pub mod reactions;
pub mod registration;
pub mod search;
pub mod sending;
pub mod sessions;
pub mod users;
pub mod views;
pub mod watermarks;
