//! Media records: stored apart from messages, which point at them; visible to the uploader and
//! to the members who can see a message carrying them; erased with the message that carried
//! them, and collected once nothing refers to them.

use std::sync::Arc;

use natter_core::{ConversationId, MediaId, MessageId, MessageKind, Role, UserId};
use natter_server::store::{MediaRow, Store};

use crate::harness::{T0, direct, group, text, users};

pub fn image(id: &str, uploader_id: &str, sha256: &str, at: i64) -> MediaRow {
    MediaRow {
        id: id.to_owned(),
        uploader_id: uploader_id.to_owned(),
        content_type: "image/png".into(),
        size: 1234,
        filename: Some("cat.png".into()),
        width: Some(640),
        height: Some(480),
        has_thumbnail: true,
        thumbnail_type: Some("image/png".into()),
        sha256: sha256.to_owned(),
        is_image: true,
        created_at: at,
    }
}

/// Sends `media_id` as an image with a caption; returns the message id.
async fn send_image(
    store: &dyn Store,
    conversation_id: &str,
    sender: &str,
    media_id: &str,
) -> String {
    let mut msg = text(conversation_id, sender, "a caption", T0 + 10);
    msg.kind = MessageKind::Image;
    msg.media_id = Some(media_id.to_owned());
    let sent = store.send(&msg).await.unwrap();
    assert!(sent.created);
    assert_eq!(sent.message.media_id.as_deref(), Some(media_id));
    assert_eq!(sent.message.kind, MessageKind::Image);
    sent.message.id
}

pub async fn media_records_are_stored_and_fetched(store: Arc<dyn Store>) {
    let [alice] = users(&*store, ["alice"]).await;
    let picture = image("media-1", &alice, "aa11", T0);
    let file = MediaRow {
        id: "media-2".into(),
        content_type: "application/octet-stream".into(),
        filename: None,
        width: None,
        height: None,
        has_thumbnail: false,
        thumbnail_type: None,
        is_image: false,
        ..image("media-2", &alice, "bb22", T0 + 1)
    };
    store.insert_media(&picture).await.unwrap();
    store.insert_media(&file).await.unwrap();

    assert_eq!(
        store.media(MediaId::new("media-1")).await.unwrap(),
        Some(picture)
    );
    assert_eq!(
        store.media(MediaId::new("media-2")).await.unwrap(),
        Some(file)
    );
    assert_eq!(store.media(MediaId::new("media-nope")).await.unwrap(), None);
}

pub async fn media_is_visible_to_its_uploader_and_to_members_who_see_it(store: Arc<dyn Store>) {
    let [alice, bob, eve, late] = users(&*store, ["alice", "bob", "eve", "late"]).await;
    let g = group(&*store, &alice, &[&bob]).await;
    store
        .insert_media(&image("m", &alice, "cc33", T0))
        .await
        .unwrap();
    let visible = |user: String| {
        let store = store.clone();
        async move {
            store
                .media_visible_to(MediaId::new("m"), UserId::new(&user))
                .await
                .unwrap()
        }
    };

    // Uploaded, not yet sent: only the uploader.
    assert!(visible(alice.clone()).await);
    assert!(!visible(bob.clone()).await);

    send_image(&*store, &g, &alice, "m").await;
    assert!(visible(bob.clone()).await);
    assert!(!visible(eve.clone()).await);
    // A member who joined after the message does not see it, nor its media.
    store
        .add_member(
            UserId::new(&alice),
            ConversationId::new(&g),
            UserId::new(&late),
            Role::Member,
            1024,
            T0 + 20,
        )
        .await
        .unwrap();
    assert!(!visible(late.clone()).await);
    // A member who left loses it.
    store
        .remove_member(
            UserId::new(&bob),
            ConversationId::new(&g),
            UserId::new(&bob),
            T0 + 21,
        )
        .await
        .unwrap();
    assert!(!visible(bob).await);
    assert!(
        !store
            .media_visible_to(MediaId::new("media-nope"), UserId::new(&alice))
            .await
            .unwrap()
    );
}

pub async fn delete_for_everyone_erases_the_media_reference(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    store
        .insert_media(&image("m", &alice, "dd44", T0))
        .await
        .unwrap();
    let msg = send_image(&*store, &dm, &alice, "m").await;

    let carried = store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg), T0 + 30)
        .await
        .unwrap();
    assert_eq!(carried.as_deref(), Some("m"));

    let tombstone = store
        .message(MessageId::new(&msg), UserId::new(&bob))
        .await
        .unwrap()
        .unwrap();
    assert!(tombstone.deleted);
    assert_eq!((tombstone.text, tombstone.media_id), (None, None));
    assert_eq!(tombstone.seq, 1);
    // The recipient loses the media with the message; the uploader keeps its own upload.
    assert!(
        !store
            .media_visible_to(MediaId::new("m"), UserId::new(&bob))
            .await
            .unwrap()
    );
    assert!(
        store
            .media_visible_to(MediaId::new("m"), UserId::new(&alice))
            .await
            .unwrap()
    );
    // Deleting again carries nothing more.
    assert_eq!(
        store
            .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg), T0 + 31)
            .await
            .unwrap(),
        None
    );
}

pub async fn media_is_deleted_only_once_unused_and_its_bytes_once_unshared(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    // Two records of the same bytes, and one of other bytes.
    store
        .insert_media(&image("m1", &alice, "same", T0))
        .await
        .unwrap();
    store
        .insert_media(&image("m2", &bob, "same", T0))
        .await
        .unwrap();
    store
        .insert_media(&image("m3", &alice, "other", T0))
        .await
        .unwrap();
    let msg = send_image(&*store, &dm, &alice, "m1").await;

    // Still carried by a message: kept.
    assert_eq!(
        store
            .delete_media_if_unused(MediaId::new("m1"))
            .await
            .unwrap(),
        None
    );
    assert!(store.media(MediaId::new("m1")).await.unwrap().is_some());

    store
        .delete_for_everyone(UserId::new(&alice), MessageId::new(&msg), T0 + 1)
        .await
        .unwrap();
    // Unused now, but its bytes are shared with m2: the record goes, the bytes stay.
    assert_eq!(
        store
            .delete_media_if_unused(MediaId::new("m1"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.media(MediaId::new("m1")).await.unwrap(), None);
    // The last record of those bytes: the caller may delete them.
    assert_eq!(
        store
            .delete_media_if_unused(MediaId::new("m2"))
            .await
            .unwrap()
            .as_deref(),
        Some("same")
    );
    assert_eq!(store.media(MediaId::new("m2")).await.unwrap(), None);
    assert_eq!(
        store
            .delete_media_if_unused(MediaId::new("m3"))
            .await
            .unwrap()
            .as_deref(),
        Some("other")
    );
    assert_eq!(
        store
            .delete_media_if_unused(MediaId::new("m3"))
            .await
            .unwrap(),
        None
    );
}

pub async fn orphan_media_lists_old_unreferenced_uploads_oldest_first(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    let dm = direct(&*store, &alice, &bob).await;
    for (id, at) in [
        ("m-c", T0 + 3),
        ("m-a", T0 + 1),
        ("m-used", T0),
        ("m-b", T0 + 2),
        ("m-new", T0 + 50),
    ] {
        store
            .insert_media(&image(id, &alice, id, at))
            .await
            .unwrap();
    }
    send_image(&*store, &dm, &alice, "m-used").await;

    assert_eq!(
        store.orphan_media(T0 + 10, 100).await.unwrap(),
        ["m-a", "m-b", "m-c"]
    );
    assert_eq!(
        store.orphan_media(T0 + 10, 2).await.unwrap(),
        ["m-a", "m-b"]
    );
    // `before` is exclusive.
    assert_eq!(store.orphan_media(T0 + 2, 100).await.unwrap(), ["m-a"]);
    assert!(store.orphan_media(T0, 100).await.unwrap().is_empty());
}

pub async fn media_bytes_of_sums_the_uploads_of_one_user(store: Arc<dyn Store>) {
    let [alice, bob] = users(&*store, ["alice", "bob"]).await;
    assert_eq!(store.media_bytes_of(UserId::new(&alice)).await.unwrap(), 0);
    store
        .insert_media(&image("m1", &alice, "aa11", T0))
        .await
        .unwrap();
    // The same bytes uploaded twice count twice: each upload is the user's.
    store
        .insert_media(&image("m2", &alice, "aa11", T0 + 1))
        .await
        .unwrap();
    store
        .insert_media(&MediaRow {
            size: 10,
            ..image("m3", &bob, "bb22", T0 + 2)
        })
        .await
        .unwrap();
    assert_eq!(
        store.media_bytes_of(UserId::new(&alice)).await.unwrap(),
        2 * 1234
    );
    assert_eq!(store.media_bytes_of(UserId::new(&bob)).await.unwrap(), 10);
    // Collected uploads no longer count.
    store
        .delete_media_if_unused(MediaId::new("m1"))
        .await
        .unwrap();
    assert_eq!(
        store.media_bytes_of(UserId::new(&alice)).await.unwrap(),
        1234
    );
}
