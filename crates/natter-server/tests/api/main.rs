//! natter's integration tests: each test starts a real server on `127.0.0.1:0` with its own
//! database and speaks to it only through `natter-client`, as every real client does.
//!
//! One test binary with a module per feature, so that the suite links once (it matters on two
//! cores). The assertions are API.md's: statuses, error codes and field values.

mod accounts;
mod accounts_modes;
mod admin;
mod authz_matrix;
mod blocks;
mod bus_nats;
mod cluster;
mod conversations;
mod errors;
mod faulty_store;
mod hardening;
mod helpers;
mod limits;
mod media;
mod messages;
mod operations;
mod pg;
mod push;
mod push_service;
mod reactions;
mod realtime;
mod resume;
mod search;
mod status;
mod sync;
mod typing_presence;
mod watermarks;
mod web;
mod webhooks;
mod ws_send;
