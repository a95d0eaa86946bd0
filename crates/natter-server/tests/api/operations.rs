//! Operations: the health check and a clean shutdown.

use crate::helpers::*;

#[tokio::test]
async fn healthz_is_ok_with_the_version() {
    let app = spawn_app().await;

    let (status, health) = app.anon().health().await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));

    let resp = app.anon().raw("GET", "/healthz", None).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_json_content_type(&resp);
}

#[tokio::test]
async fn the_server_shuts_down_cleanly_and_keeps_its_data() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let config = move |cfg: &mut natter_server::Config| cfg.data_dir = dir.clone();

    let app = spawn_app_with(config.clone()).await;
    let (alice, _) = app.user("alice").await;
    let (_, b) = app.user("bob").await;
    let conv = alice.direct(&b.id).await.unwrap().value;
    let sent = alice.send_text(&conv.id, "persisted").await.unwrap();
    let kept = app.shutdown_keeping_database().await;

    let url = kept.database_url.clone();
    let app = spawn_app_with(move |cfg| {
        config(cfg);
        cfg.database_url = url;
    })
    .await;
    let (alice, _) = app.login("alice", None).await;
    let m = alice.message(&sent.id).await.unwrap();
    assert_eq!(m.text.as_deref(), Some("persisted"));
    assert_eq!(m.seq, 1);
    app.shutdown().await;
}
