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

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop may run inside a runtime: its own thread and runtime, waited for.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
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
        })
        .join();
    }
}
