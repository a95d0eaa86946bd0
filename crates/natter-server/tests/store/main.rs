//! The storage conformance suite: what every `Store` adapter must do, checked only through the
//! `Store` trait, so that each adapter runs the very same cases.
//!
//! Each case in [`cases`] is an `async fn(Arc<dyn Store>)` that builds its own world on an empty
//! store and asserts specific values. [`conformance_suite!`] turns the list of cases into one
//! `#[tokio::test]` per case for one adapter, given a factory that opens a fresh, empty store
//! (and keeps whatever backs it alive for the test's duration). One test binary, so that the
//! suite links once.
//!
//! A case that is written but not listed in the macro is dead code, which the lint gate refuses:
//! no case can be forgotten.
//!
//! [`sqlite_files`] is the one exception to "only through the trait": it checks what only the
//! SQLite adapter has, its files (no erased text left in them after a purge).

use std::sync::Arc;

use natter_server::store::Store;

/// Asserts that a store call was refused by a domain rule of the given kind, e.g.
/// `assert_rule!(store.rename(..).await, Forbidden)`.
macro_rules! assert_rule {
    ($result:expr, $variant:ident) => {
        match $result {
            Err(natter_server::store::StoreError::Rule(natter_core::Error::$variant(_))) => {}
            other => panic!(
                "expected {} from `{}`, got {:?}",
                stringify!($variant),
                stringify!($result),
                other
            ),
        }
    };
}

mod cases;
mod harness;
mod postgres_order;
mod sqlite_files;

/// Expands to `mod $adapter { ... }` with one test per case, each run on a fresh store from
/// `$factory` (an async fn returning a [`harness::TestStore`]) and closed afterwards. Optional
/// attributes (e.g. `#[ignore = "..."]`) are put on every generated test.
macro_rules! conformance_suite {
    ($adapter:ident, $factory:path $(, #[$attr:meta])* $(,)?) => {
        conformance_suite!(@expand $adapter, $factory, [$(#[$attr])*];
            users {
                creates_and_fetches_users_by_id_and_username,
                a_taken_username_is_a_conflict,
                search_matches_a_username_prefix_in_order_up_to_the_limit,
                search_treats_percent_and_underscore_literally,
                existing_users_keeps_only_known_ids,
                set_last_seen_records_when_a_user_was_last_seen,
                contacts_of_lists_each_user_sharing_a_conversation_once,
                contacts_among_keeps_the_ids_sharing_a_conversation,
            }
            registration {
                the_first_registration_makes_an_admin_whatever_the_mode,
                concurrent_first_registrations_make_exactly_one_admin,
                an_invite_admits_as_many_as_its_uses_even_concurrently,
                expired_and_revoked_invites_admit_no_one,
                an_invite_is_revoked_by_its_creator_or_an_admin_only,
                a_password_change_deletes_every_other_session_of_the_user,
                a_display_name_change_logs_user_updated_for_the_user_and_its_contacts,
            }
            admin {
                only_admins_change_accounts_and_the_last_admin_stays,
                two_admins_stepping_down_at_once_leave_one,
                disabling_deletes_every_session_and_refuses_new_ones,
                a_password_set_for_an_account_deletes_its_sessions,
                a_deleted_account_leaves_its_groups_with_a_successor,
                deleting_an_account_names_its_uploads_no_message_carries,
                the_last_admin_cannot_delete_its_account,
                the_admin_list_holds_every_account_newest_first,
                stats_count_accounts_conversations_messages_and_bytes,
            }
            blocks {
                blocking_and_unblocking_are_idempotent_and_listed,
                blocking_oneself_is_invalid_and_an_unknown_user_not_found,
                a_block_refuses_the_direct_conversation_either_way,
                a_block_refuses_a_new_direct_conversation,
                a_retry_of_a_send_stored_before_the_block_is_answered,
                groups_are_not_affected_by_blocks,
                a_deleted_account_cannot_be_written_to_directly,
                search_leaves_out_those_who_blocked_the_searcher,
            }
            reactions {
                reactions_are_counted_per_emoji_with_the_viewers_own,
                removing_a_reaction_counts_down_and_is_idempotent,
                a_message_carries_at_most_so_many_distinct_emoji,
                a_deleted_message_loses_its_reactions_and_takes_none,
                only_members_that_see_a_message_react_to_it,
                mentions_are_stored_and_counted_until_read,
                member_usernames_name_whom_a_message_can_mention,
            }
            search {
                search_finds_words_in_any_language_newest_first,
                search_never_finds_what_the_searcher_may_not_see,
                a_deleted_group_leaves_nothing_to_find,
            }
            sessions {
                sessions_are_found_by_token_hash_and_listed_per_user,
                touching_a_session_moves_its_last_activity,
                a_user_deletes_only_its_own_sessions,
                idle_sessions_are_deleted_and_named,
            }
            direct {
                create_direct_returns_the_same_conversation_for_the_pair_in_either_order,
                a_direct_conversation_has_no_name_and_no_roles_to_change,
                create_direct_tells_pairs_apart_whatever_their_ids,
                concurrent_create_direct_makes_one_conversation,
            }
            groups {
                create_group_makes_the_creator_owner_and_keeps_join_order,
                renaming_needs_an_owner_or_admin,
                adding_a_member_records_its_join_point,
                adding_needs_an_owner_or_admin,
                adding_an_existing_member_is_a_conflict,
                adding_past_the_member_limit_is_invalid,
                adding_an_unknown_user_is_invalid,
                an_admin_cannot_remove_the_owner,
                a_plain_member_removes_only_itself,
                when_the_owner_leaves_the_longest_standing_admin_becomes_owner,
                when_the_owner_leaves_without_admins_the_longest_standing_member_becomes_owner,
                when_the_last_member_leaves_the_group_is_deleted,
                only_the_owner_changes_roles,
                concurrent_adds_respect_the_member_limit,
            }
            sending {
                seqs_start_at_one_without_gaps,
                sending_updates_last_seq_and_last_message_at,
                concurrent_sends_get_every_seq_exactly_once,
                a_repeated_client_id_returns_the_first_message,
                concurrent_sends_with_one_client_id_store_one_message,
                a_client_id_is_scoped_to_its_sender_and_conversation,
                a_non_member_cannot_send,
                reply_to_must_name_a_message_of_the_same_conversation,
            }
            history {
                messages_pages_backwards_from_the_newest_in_ascending_order,
                messages_pages_forwards_with_after,
                a_later_member_sees_only_messages_sent_after_it_joined,
                messages_by_id_reads_many_as_stored_hidden_for_no_one,
            }
            changes {
                only_the_sender_edits,
                a_deleted_message_cannot_be_edited,
                delete_for_everyone_leaves_a_tombstone_with_its_seq,
                in_a_group_the_sender_or_a_manager_deletes_for_everyone,
                in_a_direct_conversation_only_the_sender_deletes_for_everyone,
                deleting_twice_succeeds,
                hiding_affects_only_the_hiding_viewer,
                non_members_cannot_edit_delete_or_hide,
                a_plain_member_cannot_delete_anothers_message_even_once_deleted,
            }
            marks {
                marking_read_also_marks_delivered,
                marks_never_move_backwards,
                marks_are_capped_at_the_last_seq,
                mark_times_tell_when_a_mark_first_reached_a_seq,
                sending_marks_the_senders_read_seq_up_to_its_message,
                marking_needs_membership,
                concurrent_marks_keep_the_highest,
                a_burst_of_marks_waiting_together_moves_once,
            }
            media {
                media_records_are_stored_and_fetched,
                media_bytes_of_sums_the_uploads_of_one_user,
                media_is_visible_to_its_uploader_and_to_members_who_see_it,
                delete_for_everyone_erases_the_media_reference,
                media_is_deleted_only_once_unused_and_its_bytes_once_unshared,
                orphan_media_lists_old_unreferenced_uploads_oldest_first,
            }
            views {
                unread_count_counts_others_visible_messages_above_read_seq,
                the_view_shows_the_latest_message_as_the_viewer_sees_it,
                conversations_of_orders_by_latest_activity_and_filters_with_before,
                a_non_member_has_no_view,
            }
            events {
                head_grows_with_every_durable_change,
                group_changes_append_conversation_updated,
                a_send_appends_new_message,
                a_send_over_others_messages_also_appends_message_status,
                an_edit_appends_message_updated,
                delete_for_everyone_appends_message_deleted_without_text,
                hiding_appends_message_deleted_for_the_hider_only,
                marking_appends_message_status,
                removing_a_member_tells_it_and_updates_the_rest,
                a_member_does_not_see_events_from_before_it_joined,
                a_removed_member_stops_seeing_the_conversation,
                events_are_ordered_by_position_and_limited,
                what_commits_is_fed_in_position_order_as_the_log_holds_it,
                a_reader_following_the_log_never_skips_an_event,
                events_after_tails_every_event_for_the_fan_out,
                pruning_drops_old_events_and_remembers_how_far,
                backlog_reads_the_events_with_the_logs_bounds,
            }
            operations {
                ping_and_purge_succeed,
            }
            watermarks {
                direct_watermarks_follow_the_recipients_marks,
                group_watermarks_are_the_lowest_members_marks,
                removing_the_member_who_holds_them_back_moves_the_watermarks,
                watermarks_never_move_backwards,
                marks_reach_every_member_up_to_32_members_and_only_their_own_devices_past,
                concurrent_marks_of_one_member_end_at_the_highest,
            }
            notify {
                a_server_key_keeps_the_first_value_stored,
                a_subscription_is_replaced_per_session_and_per_endpoint,
                a_subscription_goes_with_its_session,
                a_subscription_is_deleted_by_its_user_or_when_gone,
                settings_default_until_changed_field_by_field,
                mutes_are_listed_until_they_end_and_need_membership,
                a_member_that_leaves_loses_its_mute,
                push_targets_carry_settings_mutes_and_subscriptions,
                a_follower_is_claimed_renewed_taken_over_and_released,
                of_nodes_claiming_a_follower_at_once_one_wins,
                a_webhook_starts_at_the_logs_head_within_the_users_limit,
                concurrent_webhook_creations_respect_the_limit,
                webhooks_are_listed_and_deleted_by_their_owner,
                a_webhook_records_deliveries_failures_and_dead_letters,
                deleting_an_account_removes_its_webhooks_and_settings,
            }
            faults {
                a_failed_commit_acknowledges_no_send_and_later_sends_are_stored,
                a_failed_commit_of_a_single_write_leaves_later_writes_stored,
                one_failing_send_in_a_batch_fails_only_itself,
            }
        );
    };
    (@expand $adapter:ident, $factory:path, $attrs:tt;
        $($module:ident { $($case:ident),* $(,)? })*
    ) => {
        mod $adapter {
            #[allow(unused_imports)]
            use super::*;

            /// A factory may return `Option<TestStore>`: none when its engine is not
            /// available, and the case then returns at once (the factory says why).
            async fn open() -> Option<$crate::harness::TestStore> {
                $factory().await.into()
            }

            $(
                mod $module {
                    $(conformance_suite!(@test $attrs, $module, $case);)*
                }
            )*
        }
    };
    (@test [$(#[$attr:meta])*], $module:ident, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $case() {
            let Some(test_store) = super::open().await else {
                return;
            };
            $crate::cases::$module::$case(test_store.store()).await;
            test_store.close().await;
        }
    };
}

/// SQLite, always: a fresh database file in a temporary directory per test.
async fn make_sqlite_store() -> harness::TestStore {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("natter.db").display());
    let store = natter_server::store::sqlite::SqliteStore::open(&url)
        .await
        .expect("open a fresh SQLite store");
    harness::TestStore::new(Arc::new(store) as Arc<dyn Store>, dir)
}

conformance_suite!(sqlite, make_sqlite_store);

// PostgreSQL, whenever NATTER_TEST_POSTGRES_URL names a database (CI always sets it): each
// case in a fresh schema, dropped afterwards. Without the variable every case returns at once
// and prints that it did not run.
conformance_suite!(postgres, postgres_order::make_postgres_store);
