//! Marks that wait together coalesce, on either adapter: while one member's mark of one
//! conversation and kind is queued for its write, later marks of the same key only raise its
//! seq and share its answer. A burst of marks so costs one move, one event and one commit, to
//! the highest seq asked.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::watch;

use crate::store::{StoreError, StoreResult};

/// (conversation, member, read rather than delivered).
pub(in crate::store) type Key = (String, String, bool);

/// A mark queued for the writer: the highest seq and time asked so far, and its answer once
/// stored.
pub(in crate::store) struct Pending {
    wanted: Mutex<(i64, i64)>,
    done: watch::Sender<Option<StoreResult<bool>>>,
}

#[derive(Default)]
pub(in crate::store) struct Coalescer {
    queued: Mutex<HashMap<Key, Arc<Pending>>>,
}

/// What a caller does with its mark.
pub(in crate::store) enum Turn {
    /// Queue it: no mark of its key is waiting.
    Lead(Arc<Pending>),
    /// A mark of its key is waiting and now covers this one: await its answer.
    Follow(watch::Receiver<Option<StoreResult<bool>>>),
}

impl Coalescer {
    pub(in crate::store) fn join(&self, key: &Key, seq: i64, at: i64) -> Turn {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = queued.get(key) {
            let mut wanted = p.wanted.lock().unwrap_or_else(|e| e.into_inner());
            wanted.0 = wanted.0.max(seq);
            wanted.1 = wanted.1.max(at);
            return Turn::Follow(p.done.subscribe());
        }
        let p = Arc::new(Pending {
            wanted: Mutex::new((seq, at)),
            done: watch::Sender::new(None),
        });
        queued.insert(key.clone(), p.clone());
        Turn::Lead(p)
    }

    /// The writer starts on the mark: later marks of the key queue anew. Returns the seq and
    /// time to store.
    pub(in crate::store) fn start(&self, key: &Key, p: &Pending) -> (i64, i64) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        if queued.get(key).is_some_and(|q| std::ptr::eq(&**q, p)) {
            queued.remove(key);
        }
        *p.wanted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mark's answer, for the callers that followed it.
    pub(in crate::store) fn finish(&self, key: &Key, p: &Pending, answer: &StoreResult<bool>) {
        // Never started (the writer stopped): no later mark may wait on it.
        self.start(key, p);
        p.done.send_replace(Some(match answer {
            Ok(moved) => Ok(*moved),
            Err(StoreError::Rule(rule)) => Err(StoreError::Rule(rule.clone())),
            Err(StoreError::Unavailable(why)) => Err(StoreError::Unavailable(why.clone())),
            Err(StoreError::Internal(why)) => Err(StoreError::Internal(why.clone())),
        }));
    }
}

/// The answer a follower waits for.
pub(in crate::store) async fn follow(
    mut done: watch::Receiver<Option<StoreResult<bool>>>,
) -> StoreResult<bool> {
    let answer = done
        .wait_for(Option::is_some)
        .await
        .map_err(|_| StoreError::Internal("the mark was dropped".into()))?;
    match answer.as_ref() {
        Some(Ok(moved)) => Ok(*moved),
        Some(Err(StoreError::Rule(rule))) => Err(StoreError::Rule(rule.clone())),
        Some(Err(StoreError::Unavailable(why))) => Err(StoreError::Unavailable(why.clone())),
        Some(Err(e)) => Err(StoreError::Internal(e.to_string())),
        None => Err(StoreError::Internal("the mark was dropped".into())),
    }
}
