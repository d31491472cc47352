//! The exactly-once state machine, driven by a fake Atlas on tokio's paused clock: every wait
//! (latency, settle window, backoff, lease) passes instantly and deterministically, so the
//! order of events is what is tested, not the machine's speed.
//!
//! The fake is a model of a server, not a script of answers: an invitation is created when the
//! server finishes its work, whether or not the client still waits for the answer, and a lookup
//! sees only what is created by then — the order of events that produces duplicates.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::events::{AttemptOutcome, Event, StopReason};
use super::executor::{EventSink, Executor, SinkClosed};
use super::{PipelineConfig, PipelineOutcome, Rate, RateGate, RetryPolicy, StopSignal};
use crate::atlas::client::Answer;
use crate::atlas::error::{CallError, RateHeaders};
use crate::atlas::model::{Invitation, InvitationRequest};
use crate::plan::PlannedRow;
use crate::roster::Invitee;
use crate::vocab::InviteStatus;

/// The client's timeout in these tests.
const TIMEOUT: Duration = Duration::from_secs(1);
/// The settle window in these tests.
const SETTLE: Duration = Duration::from_secs(3);

/// What the fake server does with one invitation request.
#[derive(Debug, Clone, Copy)]
enum Post {
    /// Works this long, then creates the invitation (or answers 409 when one exists) and
    /// answers; a client that gave up before has its invitation created all the same.
    Create(Duration),
    /// Answers this status at once, creating nothing.
    Status(u16),
}

#[derive(Default)]
struct Server {
    /// Per address, what its successive POSTs do; `Create(0)` once the script is used up.
    script: HashMap<String, VecDeque<Post>>,
    /// Invitations, with the instant each was created.
    created: Vec<(String, Instant)>,
    posts: usize,
    lookups: Vec<(String, Instant)>,
}

#[derive(Clone, Default)]
struct FakeAtlas {
    server: Arc<Mutex<Server>>,
}

impl FakeAtlas {
    fn script(&self, email: &str, posts: impl IntoIterator<Item = Post>) {
        let mut server = self.server.lock().unwrap();
        server
            .script
            .insert(email.to_owned(), posts.into_iter().collect());
    }

    fn invitations_for(&self, email: &str) -> usize {
        let server = self.server.lock().unwrap();
        server.created.iter().filter(|(e, _)| e == email).count()
    }

    fn id_of(email: &str, n: usize) -> String {
        format!("{email}#{n}")
    }

    fn answer<T>(value: T, status: u16) -> Answer<T> {
        Answer {
            value,
            status,
            rate: RateHeaders::default(),
            sunset: None,
        }
    }

    fn status(status: u16, code: &str) -> CallError {
        CallError::Status {
            status,
            api: Some(Box::new(crate::atlas::model::ApiError {
                error: status,
                error_code: code.to_owned(),
                ..Default::default()
            })),
            body: String::new(),
            error_code_header: None,
            rate: RateHeaders::default(),
        }
    }

    /// The server's work on one POST, as a task of its own: it goes on when the client leaves.
    async fn serve(self, email: String, post: Post) -> Result<Answer<Invitation>, CallError> {
        match post {
            Post::Status(status) => Err(FakeAtlas::status(status, "FAKE")),
            Post::Create(work) => {
                tokio::time::sleep(work).await;
                let mut server = self.server.lock().unwrap();
                let n = server.created.iter().filter(|(e, _)| *e == email).count();
                if n > 0 {
                    return Err(FakeAtlas::status(409, "USER_ALREADY_INVITED"));
                }
                server.created.push((email.clone(), Instant::now()));
                let invitation = Invitation {
                    id: Some(FakeAtlas::id_of(&email, 1)),
                    username: Some(email),
                    ..Invitation::default()
                };
                Ok(FakeAtlas::answer(invitation, 201))
            }
        }
    }
}

impl Executor for FakeAtlas {
    fn send<'a>(
        &'a self,
        request: &'a InvitationRequest,
    ) -> BoxFuture<'a, Result<Answer<Invitation>, CallError>> {
        let email = request.username.clone();
        let post = {
            let mut server = self.server.lock().unwrap();
            server.posts += 1;
            server
                .script
                .get_mut(&email)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Post::Create(Duration::ZERO))
        };
        let work = tokio::spawn(self.clone().serve(email, post));
        Box::pin(async move {
            match tokio::time::timeout(TIMEOUT, work).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(CallError::NoAnswer("the server task failed".into())),
                Err(_) => Err(CallError::NoAnswer("timed out".into())),
            }
        })
    }

    fn lookup<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Answer<Option<Invitation>>, CallError>> {
        let mut server = self.server.lock().unwrap();
        server.lookups.push((email.to_owned(), Instant::now()));
        let found = server
            .created
            .iter()
            .any(|(e, _)| e == email)
            .then(|| Invitation {
                id: Some(FakeAtlas::id_of(email, 1)),
                username: Some(email.to_owned()),
                ..Invitation::default()
            });
        Box::pin(std::future::ready(Ok(FakeAtlas::answer(found, 200))))
    }

    fn send_endpoint(&self) -> &'static str {
        "POST /fake"
    }

    fn lookup_endpoint(&self) -> &'static str {
        "GET /fake"
    }
}

/// Keeps every event; never fails.
#[derive(Default)]
struct Events {
    seen: Mutex<Vec<Event>>,
}

impl Events {
    fn finished(&self) -> HashMap<String, (InviteStatus, Option<String>)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter_map(|e| match e {
                Event::Finished(r) => Some((r.email.clone(), (r.status, r.invitation_id.clone()))),
                _ => None,
            })
            .collect()
    }

    /// The outcomes of `email`'s requests, in order.
    fn outcomes(&self, email: &str) -> Vec<AttemptOutcome> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter_map(|e| match e {
                Event::Attempt(a) => Some(a),
                Event::Finished(r) => r.last_attempt.as_ref(),
                _ => None,
            })
            .filter(|a| a.email_key == *email)
            .map(|a| a.outcome)
            .collect()
    }
}

impl EventSink for Events {
    fn emit(&self, event: Event) {
        self.seen.lock().unwrap().push(event);
    }

    fn commit(&self, event: Event) -> BoxFuture<'_, Result<(), SinkClosed>> {
        self.emit(event);
        Box::pin(std::future::ready(Ok(())))
    }
}

fn row(email: &str, unresolved: bool) -> PlannedRow {
    let invitee = Invitee {
        line: 2,
        email: email.to_owned(),
        roles: vec![crate::atlas::model::OrgRole::OrgMember],
        roles_defaulted: false,
        team_ids: Vec::new(),
        projects: Vec::new(),
        names: None,
        sources: Default::default(),
    };
    PlannedRow {
        invitee,
        unresolved,
    }
}

fn config() -> PipelineConfig {
    PipelineConfig {
        concurrency: 4,
        retry: RetryPolicy::new(8, Duration::from_millis(100)),
        settle: SETTLE,
        earlier_requests_settled_at: None,
    }
}

async fn run(
    atlas: &FakeAtlas,
    events: &Arc<Events>,
    config: PipelineConfig,
    rows: Vec<PlannedRow>,
) -> PipelineOutcome {
    super::run(
        Arc::new(atlas.clone()),
        Arc::new(RateGate::fixed(Rate::per_second(1000.0))),
        Arc::clone(events) as Arc<dyn EventSink>,
        Arc::new(StopSignal::default()),
        config,
        rows,
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn an_answered_invitation_is_sent_once() {
    let atlas = FakeAtlas::default();
    let events = Arc::new(Events::default());
    run(&atlas, &events, config(), vec![row("a@x.io", false)]).await;
    assert_eq!(atlas.invitations_for("a@x.io"), 1);
    assert_eq!(events.outcomes("a@x.io"), vec![AttemptOutcome::Invited]);
    let finished = events.finished();
    assert_eq!(
        finished["a@x.io"],
        (InviteStatus::Invited, Some("a@x.io#1".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_invitation_is_looked_up_only_after_the_settle_window() {
    let atlas = FakeAtlas::default();
    // The server creates it 2 s after it was sent, the client gives up after 1 s.
    atlas.script("a@x.io", [Post::Create(Duration::from_secs(2))]);
    let events = Arc::new(Events::default());
    let started = Instant::now();
    run(&atlas, &events, config(), vec![row("a@x.io", false)]).await;
    assert_eq!(atlas.invitations_for("a@x.io"), 1, "never sent twice");
    assert_eq!(
        events.outcomes("a@x.io"),
        vec![AttemptOutcome::Unknown, AttemptOutcome::Found]
    );
    let lookups = atlas.server.lock().unwrap().lookups.clone();
    assert_eq!(lookups.len(), 1);
    assert!(
        lookups[0].1 >= started + SETTLE,
        "looked up {:?} after sending",
        lookups[0].1 - started
    );
    assert_eq!(
        events.finished()["a@x.io"],
        (InviteStatus::Invited, Some("a@x.io#1".into()))
    );
    // The row said it waited, and for how long.
    let seen = events.seen.lock().unwrap();
    assert!(seen.iter().any(
        |e| matches!(e, Event::Settling { email, wait } if email == "a@x.io" && *wait <= SETTLE)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_lookup_that_finds_nothing_after_the_window_sends_again() {
    let atlas = FakeAtlas::default();
    // The first request never creates anything (a 502 from a gateway, say, after which Atlas
    // dropped it): the lookup finds nothing and the person is sent again.
    atlas.script("a@x.io", [Post::Status(502)]);
    let events = Arc::new(Events::default());
    run(&atlas, &events, config(), vec![row("a@x.io", false)]).await;
    assert_eq!(atlas.invitations_for("a@x.io"), 1);
    assert_eq!(
        events.outcomes("a@x.io"),
        vec![
            AttemptOutcome::Unknown,
            AttemptOutcome::NotFound,
            AttemptOutcome::Invited
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn already_invited_after_our_own_unanswered_request_is_ours() {
    let atlas = FakeAtlas::default();
    // Settle window 4 s, but the server creates the first invitation 4.5 s after it was sent
    // (an operator's window too short for this server): the lookup at 4 s misses it, and the
    // resend, worked on for 0.7 s, meets the first invitation and is answered 409.
    atlas.script(
        "a@x.io",
        [
            Post::Create(Duration::from_millis(4_500)),
            Post::Create(Duration::from_millis(700)),
        ],
    );
    let events = Arc::new(Events::default());
    let mut config = config();
    config.settle = Duration::from_secs(4);
    run(&atlas, &events, config, vec![row("a@x.io", false)]).await;
    assert_eq!(atlas.invitations_for("a@x.io"), 1);
    assert_eq!(
        events.outcomes("a@x.io"),
        vec![
            AttemptOutcome::Unknown,
            AttemptOutcome::NotFound,
            AttemptOutcome::AlreadyInvited,
            AttemptOutcome::Found
        ]
    );
    assert_eq!(
        events.finished()["a@x.io"],
        (InviteStatus::Invited, Some("a@x.io#1".into())),
        "recorded as ours, with its id"
    );
}

#[tokio::test(start_paused = true)]
async fn a_row_waiting_to_settle_does_not_hold_up_the_rows_behind_it() {
    let atlas = FakeAtlas::default();
    atlas.script("slow@x.io", [Post::Create(Duration::from_secs(2))]);
    let events = Arc::new(Events::default());
    let mut config = config();
    config.concurrency = 1;
    let rows = vec![
        row("slow@x.io", false),
        row("b@x.io", false),
        row("c@x.io", false),
    ];
    let started = Instant::now();
    run(&atlas, &events, config, rows).await;
    let server = atlas.server.lock().unwrap();
    let when = |email: &str| {
        server
            .created
            .iter()
            .find(|(e, _)| e == email)
            .map(|(_, at)| *at - started)
            .unwrap()
    };
    // With one slot, b and c went while slow@ waited for its window.
    assert!(when("b@x.io") < SETTLE, "{:?}", when("b@x.io"));
    assert!(when("c@x.io") < SETTLE, "{:?}", when("c@x.io"));
    assert_eq!(server.created.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn rows_an_earlier_run_left_in_flight_wait_for_its_requests_to_settle() {
    let atlas = FakeAtlas::default();
    let events = Arc::new(Events::default());
    let mut config = config();
    let wait = Duration::from_secs(7);
    config.earlier_requests_settled_at = Some(SystemTime::now() + wait);
    let started = Instant::now();
    run(
        &atlas,
        &events,
        config,
        vec![row("left@x.io", true), row("new@x.io", false)],
    )
    .await;
    let server = atlas.server.lock().unwrap();
    assert_eq!(server.lookups.len(), 1);
    assert_eq!(server.lookups[0].0, "left@x.io");
    assert!(server.lookups[0].1 >= started + wait);
    // The new row did not wait.
    let new = server
        .created
        .iter()
        .find(|(e, _)| e == "new@x.io")
        .unwrap();
    assert!(new.1 - started < wait);
    // Nothing existed for the left row: it was sent after the lookup.
    assert_eq!(server.created.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn unauthorized_stops_the_run_and_leaves_the_rest_unsent() {
    let atlas = FakeAtlas::default();
    atlas.script("a@x.io", [Post::Status(401)]);
    let events = Arc::new(Events::default());
    let mut config = config();
    config.concurrency = 1;
    let outcome = run(
        &atlas,
        &events,
        config,
        vec![row("a@x.io", false), row("b@x.io", false)],
    )
    .await;
    assert!(matches!(
        outcome.stopped,
        Some(StopReason::AuthFailed { status: 401, .. })
    ));
    assert_eq!(atlas.server.lock().unwrap().posts, 1);
    let finished = events.finished();
    assert_eq!(finished["a@x.io"].0, InviteStatus::Pending);
    assert!(
        finished
            .get("b@x.io")
            .is_none_or(|(s, _)| *s == InviteStatus::Pending)
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_waited_out_and_the_row_is_sent_once() {
    let atlas = FakeAtlas::default();
    atlas.script("a@x.io", [Post::Status(429)]);
    let events = Arc::new(Events::default());
    run(&atlas, &events, config(), vec![row("a@x.io", false)]).await;
    assert_eq!(atlas.invitations_for("a@x.io"), 1);
    assert_eq!(
        events.outcomes("a@x.io"),
        vec![AttemptOutcome::RateLimited, AttemptOutcome::Invited]
    );
}
