//! Scratch PostgreSQL schemas: each server under test on PostgreSQL gets a schema of its own in
//! the database at `NATTER_TEST_POSTGRES_URL`, dropped when the test is over.

use sqlx::{Connection, PgConnection};

/// The database the PostgreSQL tests use, if set.
pub fn postgres_url() -> Option<String> {
    std::env::var("NATTER_TEST_POSTGRES_URL").ok()
}

/// A schema of its own, dropped (with everything in it) when this is dropped.
pub struct Schema {
    base: String,
    name: String,
    /// The database URL whose connections use only this schema.
    pub url: String,
}

impl Schema {
    pub async fn create(base: &str) -> Schema {
        let name = format!("natter_api_{}", uuid::Uuid::now_v7().simple());
        let mut conn = PgConnection::connect(base)
            .await
            .unwrap_or_else(|e| panic!("NATTER_TEST_POSTGRES_URL {base}: {e}"));
        sweep_stale(&mut conn).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("a scratch schema");
        let _ = conn.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Schema {
            base: base.to_owned(),
            name,
            url,
        }
    }
}

/// Drops, once per test process, the scratch schemas of runs that ended more than an hour ago
/// without dropping theirs (a schema's name holds its creation time: a v7 UUID).
async fn sweep_stale(conn: &mut PgConnection) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let mut first = false;
    SWEPT.call_once(|| first = true);
    if !first {
        return;
    }
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'natter\\_api\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .saturating_sub(3_600_000);
    for (name,) in names {
        let created = name
            .strip_prefix("natter_api_")
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
            .map(|v| v >> 80);
        if created.is_some_and(|ms| ms < hour_ago) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Not waited for: the server's connections may hold locks on the schema's tables until
        // the test's runtime has run their rollbacks, which waiting here would prevent. A
        // schema left behind when the process exits first is swept by a later run.
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&base).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
    }
}
