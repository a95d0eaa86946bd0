//! Pools of threads for CPU-heavy work (password hashing, image decoding).
//!
//! Each pool has a fixed number of long-lived threads, which bounds how many jobs run at once
//! and keeps their memory in a fixed number of allocator arenas: on tokio's blocking pool every
//! new thread would touch a fresh arena, and a burst of logins (19 MiB of Argon2 memory each)
//! would leave hundreds of MiB resident.

use tokio::sync::oneshot;

pub struct CpuPool {
    pool: rayon::ThreadPool,
}

impl CpuPool {
    pub fn new(name: &'static str, threads: usize) -> std::io::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(move |i| format!("{name}-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self { pool })
    }

    /// Runs `job` on the pool and waits for it without blocking the async executor. A job that
    /// panics yields `None`.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            if let Ok(out) = out {
                let _ = tx.send(out);
            }
        });
        rx.await.ok()
    }
}
