//! How the SQL adapters' engine errors map to the port's [`StoreError`]: whether storage cannot
//! serve now (and may later), or something is wrong. Shared by every sqlx-based adapter.

use super::StoreError;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(format!("database: {e}"))
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Internal(format!("migration: {e}"))
    }
}

/// Whether an engine error says the storage cannot serve now (and may later), rather than that
/// the request or the code is wrong.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(d) => {
            let Some(code) = d.code() else { return false };
            // SQLite reports its (extended) result code as a number; the primary code is the
            // low byte: BUSY 5, LOCKED 6, NOMEM 7, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14,
            // PROTOCOL 15. PostgreSQL reports a SQLSTATE: class 08 (connection), 53 (insufficient
            // resources, disk full among them), 57P (operator intervention, shutdown), 40001
            // and 40P01 (serialization failure, deadlock: retryable).
            match code.parse::<i64>() {
                Ok(n) => matches!(n & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15),
                Err(_) => {
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code == "40001"
                        || code == "40P01"
                }
            }
        }
        _ => false,
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(
                DatabaseBusy
                | DatabaseLocked
                | OutOfMemory
                | ReadOnly
                | SystemIoFailure
                | DiskFull
                | CannotOpen
                | FileLockingProtocolFailed,
            ) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(format!("database: {e}")),
        }
    }
}
