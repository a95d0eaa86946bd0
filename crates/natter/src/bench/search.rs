//! `natter bench search`: the latency of `GET /api/v1/search` over a seeded database (`natter
//! seed`), as one of its users: queries of common words, of words in the middle of the
//! vocabulary, of rare words, of prefixes (the last word of a query is one), of two words, and
//! of a common word in one conversation. Each kind's queries run one after another (or
//! `--concurrency` at once), each its own random word of the kind, and each gets a p50 and p99.

use std::time::Instant;

use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use natter_client::{Client, LoginRequest};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{
    Common, Scenario,
    chat::histogram,
    report::{Latency, Report, SearchKind},
    target::Target,
};
use crate::seed::words::{SIZE, Vocabulary};

/// One kind of query: a name, and how to make one.
struct Kind {
    name: &'static str,
    make: fn(&Vocabulary, &mut StdRng) -> String,
    in_conversation: bool,
}

fn pick(v: &Vocabulary, rng: &mut StdRng, ranks: std::ops::Range<usize>) -> String {
    v.words[rng.random_range(ranks)].clone()
}

const KINDS: &[Kind] = &[
    Kind {
        name: "common",
        make: |v, r| pick(v, r, 0..20),
        in_conversation: false,
    },
    Kind {
        name: "medium",
        make: |v, r| pick(v, r, 500..2_000),
        in_conversation: false,
    },
    Kind {
        name: "rare",
        make: |v, r| pick(v, r, 15_000..SIZE),
        in_conversation: false,
    },
    Kind {
        // Three letters of a made-up word: many words start so.
        name: "prefix",
        make: |v, r| pick(v, r, 400..4_000).chars().take(3).collect(),
        in_conversation: false,
    },
    Kind {
        name: "two-words",
        make: |v, r| format!("{} {}", pick(v, r, 0..50), pick(v, r, 500..5_000)),
        in_conversation: false,
    },
    Kind {
        name: "absent",
        make: |_, r| format!("qqq{}", r.random_range(0..1_000_000)),
        in_conversation: false,
    },
    Kind {
        name: "common-in-one",
        make: |v, r| pick(v, r, 0..20),
        in_conversation: true,
    },
];

pub async fn run(scenario: &Scenario, c: &Common) -> Result<Report> {
    let Scenario::Search {
        user,
        password,
        queries,
        concurrency,
        limit,
        timeout,
        kinds,
    } = scenario
    else {
        unreachable!("not the search scenario")
    };
    let (queries, concurrency, limit, timeout) = (*queries, *concurrency, *limit, *timeout);
    if let Some(k) = kinds
        .iter()
        .find(|k| !KINDS.iter().any(|d| d.name == k.as_str()))
    {
        anyhow::bail!(
            "no kind of query {k:?}: choose among {}",
            KINDS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
        );
    }
    let target = Target::new(c)?;
    let (client, _) = Client::new(&target.url)
        .login(&LoginRequest {
            username: user.clone(),
            password: password.clone(),
            device_name: Some("natter bench search".into()),
        })
        .await
        .with_context(|| format!("logging in as {user} (seeded with `natter seed`?)"))?;
    // The user's most active conversation, for the searches in one conversation.
    let conversation = client
        .conversations(Some(1), None)
        .await?
        .conversations
        .pop()
        .map(|c| c.id);
    let vocabulary = Vocabulary::new();
    let mut rng = StdRng::seed_from_u64(42);
    let before = target.stats_each();
    let began = Instant::now();
    let mut report = Report {
        scenario: "search".into(),
        parameters: format!(
            "user {user}, {queries} queries of each kind, {concurrency} at once, page of {}",
            limit.map_or("50 (the default)".to_owned(), |l| l.to_string())
        ),
        ..Default::default()
    };
    for kind in KINDS
        .iter()
        .filter(|k| kinds.is_empty() || kinds.iter().any(|n| n == k.name))
    {
        let scope = if kind.in_conversation {
            match &conversation {
                Some(id) => Some(id.as_str()),
                None => continue,
            }
        } else {
            None
        };
        let qs: Vec<String> = (0..queries)
            .map(|_| (kind.make)(&vocabulary, &mut rng))
            .collect();
        // One query first, not measured: the first of a kind may read cold pages.
        let _ = tokio::time::timeout(timeout, client.search(&qs[0], scope, None, limit)).await;
        let results: Vec<Result<(u64, usize), String>> = stream::iter(qs.iter())
            .map(|q| {
                let client = client.clone();
                async move {
                    let t = Instant::now();
                    let found = tokio::time::timeout(timeout, client.search(q, scope, None, limit))
                        .await
                        .map_err(|_| format!("{q:?}: no answer within {timeout:?}"))?
                        .map_err(|e| format!("{q:?}: {e}"))?;
                    Ok((t.elapsed().as_micros() as u64, found.messages.len()))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut h = histogram();
        let mut hits = 0usize;
        let mut errors = 0u64;
        for r in results {
            match r {
                Ok((us, n)) => {
                    h.record(us.max(1)).ok();
                    hits += n;
                }
                Err(e) => {
                    errors += 1;
                    if report.notes.len() < 10 {
                        report.notes.push(format!("{}: {e}", kind.name));
                    }
                }
            }
        }
        let mut shown: Vec<String> = qs.iter().take(5).cloned().collect();
        if qs.len() > 5 {
            shown.push("…".into());
        }
        report.searches.push(SearchKind {
            kind: kind.name.into(),
            queries: shown,
            mean_hits: hits as f64 / h.len().max(1) as f64,
            latency: Latency::from_micros(&h),
            errors,
        });
        report.send_errors += errors;
    }
    report.seconds = began.elapsed().as_secs_f64();
    let each: Vec<_> = before
        .into_iter()
        .zip(target.stats_each())
        .map(|(b, a)| super::target::delta(b, a))
        .collect();
    report.server = super::target::sum(&each);
    Ok(report)
}
