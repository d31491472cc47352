//! The benchmark's second peer: a bare asynchronous Rust client on the same HTTP stack as
//! `atlas-invite` (reqwest on one tokio thread), sending the same invitations with the same
//! concurrency to the same simulator, with no CSV, no journal, no rate limiter and no retries.
//! What it costs per invitation is the floor of that stack on the machine; what `atlas-invite`
//! costs beyond it is its own work (validation, journal, pipeline). Used by `scripts/bench.py`.
//!
//! Usage: peer_reqwest BASE_URL ORG_ID TOKEN ROWS CONCURRENCY
//! Prints one JSON line: {"ok": N, "failed": N}.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const MEDIA: &str = "application/vnd.atlas.2023-01-01+json";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, org, token, rows, concurrency] = args.as_slice() else {
        eprintln!("usage: peer_reqwest BASE_URL ORG_ID TOKEN ROWS CONCURRENCY");
        std::process::exit(2);
    };
    let (Ok(rows), Ok(concurrency)) = (rows.parse::<usize>(), concurrency.parse::<usize>()) else {
        eprintln!("ROWS and CONCURRENCY must be numbers");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (ok, failed) = runtime.block_on(send_all(base, org, token, rows, concurrency));
    println!("{}", serde_json::json!({ "ok": ok, "failed": failed }));
}

async fn send_all(
    base: &str,
    org: &str,
    token: &str,
    rows: usize,
    concurrency: usize,
) -> (usize, usize) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("an HTTP client");
    let url = reqwest::Url::parse(&format!("{base}/api/atlas/v2/orgs/{org}/invites"))
        .expect("a valid base URL");
    let bearer = format!("Bearer {token}");
    let next = AtomicUsize::new(0);
    let ok = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= rows {
                return;
            }
            let body = serde_json::json!({
                "username": format!("peer{i}@example.com"),
                "roles": ["ORG_MEMBER"],
            });
            let sent = http
                .post(url.clone())
                .header(reqwest::header::AUTHORIZATION, &bearer)
                .header(reqwest::header::ACCEPT, MEDIA)
                .header(reqwest::header::CONTENT_TYPE, MEDIA)
                .body(serde_json::to_vec(&body).expect("JSON"))
                .send()
                .await;
            let done = match sent {
                Ok(response) => {
                    let status = response.status();
                    response.bytes().await.is_ok() && status.is_success()
                }
                Err(_) => false,
            };
            if done { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
        }
    };
    futures::future::join_all((0..concurrency).map(|_| worker())).await;
    (ok.into_inner(), failed.into_inner())
}
