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
use super::executor::{Call, ChangeCall, Effect, EventSink, Executor, SinkClosed, UserSeen};
use super::{PipelineConfig, PipelineOutcome, Rate, RateGate, RetryPolicy, StopSignal};
use crate::atlas::client::Answer;
use crate::atlas::error::{CallError, RateHeaders};
use crate::atlas::model::{Invitation, InvitationRequest};
use crate::plan::{Grants, PlannedChange, PlannedRow};
use crate::roster::Invitee;
use crate::vocab::events::{ChangeResult, ChangeTarget};
use crate::vocab::{ChangeState, EmailKey, InviteStatus, Operation};

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
    /// For changes: the invitation endpoints are in use (pending invitations are looked up).
    invites_api: bool,
    /// Pending invitations by address, with their ids.
    pending: HashMap<String, String>,
    /// Users by address.
    users: HashMap<String, UserSeen>,
    /// Every PATCH and DELETE, in order.
    changes: Vec<ChangeCall>,
    /// Changes applied whose answer is then lost (the client sees no answer).
    lose_answers: usize,
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

    fn find_pending_invitation<'a>(&'a self, email: &'a str) -> Call<'a, Option<String>> {
        let found = self.server.lock().unwrap().pending.get(email).cloned();
        Box::pin(std::future::ready(Ok(FakeAtlas::answer(found, 200))))
    }

    fn invitation_lookup_endpoint(&self) -> Option<&'static str> {
        self.server
            .lock()
            .unwrap()
            .invites_api
            .then_some("GET /fake/invites")
    }

    fn find_user<'a>(&'a self, email: &'a str) -> Call<'a, Option<UserSeen>> {
        let found = self.server.lock().unwrap().users.get(email).cloned();
        Box::pin(std::future::ready(Ok(FakeAtlas::answer(found, 200))))
    }

    fn user_lookup_endpoint(&self) -> &'static str {
        "GET /fake/users"
    }

    fn owners(&self) -> Call<'_, u64> {
        let server = self.server.lock().unwrap();
        let owners = server
            .users
            .values()
            .filter(|u| u.active && u.owner)
            .count();
        Box::pin(std::future::ready(Ok(FakeAtlas::answer(
            owners as u64,
            200,
        ))))
    }

    fn owners_endpoint(&self) -> &'static str {
        "GET /fake/users"
    }

    fn change<'a>(&'a self, call: &'a ChangeCall) -> Call<'a, Effect> {
        let mut server = self.server.lock().unwrap();
        server.changes.push(call.clone());
        let effect = match call {
            ChangeCall::UpdateInvitation { id, .. } => server
                .pending
                .values()
                .any(|p| p == id)
                .then_some(Effect::Applied),
            ChangeCall::UpdateUser { id, .. } => server
                .users
                .values()
                .any(|u| u.id == *id)
                .then_some(Effect::Applied),
            ChangeCall::DeleteInvitation { id } => {
                let before = server.pending.len();
                server.pending.retain(|_, p| p != id);
                Some(if server.pending.len() < before {
                    Effect::Applied
                } else {
                    Effect::Gone
                })
            }
            ChangeCall::DeleteUser { id } => {
                let before = server.users.len();
                server.users.retain(|_, u| u.id != *id);
                Some(if server.users.len() < before {
                    Effect::Applied
                } else {
                    Effect::Gone
                })
            }
        };
        let answer = match effect {
            None => Err(FakeAtlas::status(404, "NOT_FOUND")),
            Some(_) if server.lose_answers > 0 => {
                server.lose_answers -= 1;
                Err(CallError::NoAnswer("timed out".into()))
            }
            Some(effect) => Ok(FakeAtlas::answer(effect, 200)),
        };
        Box::pin(std::future::ready(answer))
    }

    fn change_endpoint(&self, _call: &ChangeCall) -> &'static str {
        "PATCH|DELETE /fake"
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
                Event::ChangeFinished(c) => c.last_attempt.as_ref(),
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

// ----- changes: updates, revocations, removals ------------------------------------------------

fn change(email: &str, operation: Operation, to: Option<&[&str]>) -> PlannedChange {
    let grants = |roles: &[&str]| {
        Grants::new(
            roles.iter().map(|r| r.to_string()).collect(),
            Vec::new(),
            Vec::new(),
        )
    };
    PlannedChange {
        id: 7,
        email: email.to_owned(),
        email_key: EmailKey::of(email),
        operation,
        reason: "test".into(),
        from: grants(&["ORG_OWNER"]),
        to: to.map(grants),
        invitation_id: None,
        user_id: None,
        remove_active: false,
    }
}

fn user(id: &str, active: bool, owner: bool) -> UserSeen {
    UserSeen {
        id: id.into(),
        active,
        owner,
    }
}

async fn run_changes(
    atlas: &FakeAtlas,
    events: &Arc<Events>,
    changes: Vec<PlannedChange>,
) -> Vec<ChangeResult> {
    super::run_all(
        Arc::new(atlas.clone()),
        Arc::new(RateGate::fixed(Rate::per_second(1000.0))),
        Arc::clone(events) as Arc<dyn EventSink>,
        Arc::new(StopSignal::default()),
        config(),
        Vec::new(),
        changes,
    )
    .await;
    let seen = events.seen.lock().unwrap();
    seen.iter()
        .filter_map(|e| match e {
            Event::ChangeFinished(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_pending_invitation_is_updated_in_place_with_the_invitation_endpoints() {
    let atlas = FakeAtlas::default();
    {
        let mut server = atlas.server.lock().unwrap();
        server.invites_api = true;
        server.pending.insert("ann@x.io".into(), "inv-1".into());
    }
    let events = Arc::new(Events::default());
    let done = run_changes(
        &atlas,
        &events,
        vec![change("ann@x.io", Operation::Update, Some(&["ORG_MEMBER"]))],
    )
    .await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].state, ChangeState::Done);
    assert_eq!(
        done[0].target,
        Some(ChangeTarget::Invitation("inv-1".into()))
    );
    let server = atlas.server.lock().unwrap();
    let [ChangeCall::UpdateInvitation { id, grants }] = server.changes.as_slice() else {
        panic!("one PATCH of the invitation: {:?}", server.changes);
    };
    assert_eq!(
        (id.as_str(), grants.roles.as_slice()),
        ("inv-1", &["ORG_MEMBER".to_owned()][..])
    );
}

#[tokio::test(start_paused = true)]
async fn an_accepted_invitation_is_updated_through_the_user() {
    let atlas = FakeAtlas::default();
    {
        let mut server = atlas.server.lock().unwrap();
        server.invites_api = true;
        server
            .users
            .insert("ann@x.io".into(), user("u-1", true, false));
    }
    let events = Arc::new(Events::default());
    let done = run_changes(
        &atlas,
        &events,
        vec![change("ann@x.io", Operation::Update, Some(&["ORG_MEMBER"]))],
    )
    .await;
    assert_eq!(done[0].state, ChangeState::Done);
    assert_eq!(done[0].target, Some(ChangeTarget::User("u-1".into())));
    assert!(matches!(
        atlas.server.lock().unwrap().changes.as_slice(),
        [ChangeCall::UpdateUser { .. }]
    ));
}

#[tokio::test(start_paused = true)]
async fn revoke_keeps_members_unless_asked_and_never_removes_the_last_owner() {
    let atlas = FakeAtlas::default();
    {
        let mut server = atlas.server.lock().unwrap();
        server
            .users
            .insert("member@x.io".into(), user("u-1", true, false));
        server
            .users
            .insert("pending@x.io".into(), user("u-2", false, false));
        server
            .users
            .insert("owner@x.io".into(), user("u-3", true, true));
        server
            .users
            .insert("kept@x.io".into(), user("u-4", true, false));
    }
    let events = Arc::new(Events::default());
    let mut remove_member = change("member@x.io", Operation::Revoke, None);
    remove_member.remove_active = true;
    let done = run_changes(
        &atlas,
        &events,
        vec![
            change("kept@x.io", Operation::Revoke, None),
            change("pending@x.io", Operation::Revoke, None),
            remove_member,
            change("owner@x.io", Operation::Remove, None),
            change("nobody@x.io", Operation::Revoke, None),
        ],
    )
    .await;
    let by_email: HashMap<&str, &ChangeResult> =
        done.iter().map(|c| (c.email.as_str(), c)).collect();
    assert_eq!(by_email["kept@x.io"].state, ChangeState::Kept);
    assert_eq!(
        (
            by_email["pending@x.io"].state,
            by_email["pending@x.io"].operation
        ),
        (ChangeState::Done, Operation::Revoke)
    );
    // A member taken out is removed, not revoked.
    assert_eq!(
        (
            by_email["member@x.io"].state,
            by_email["member@x.io"].operation
        ),
        (ChangeState::Done, Operation::Remove)
    );
    assert_eq!(by_email["owner@x.io"].state, ChangeState::Kept);
    assert!(
        by_email["owner@x.io"]
            .detail
            .as_deref()
            .unwrap()
            .contains("last ORG_OWNER")
    );
    assert_eq!(by_email["nobody@x.io"].state, ChangeState::Done);
    let server = atlas.server.lock().unwrap();
    assert_eq!(
        server
            .users
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["kept@x.io", "owner@x.io"].into()
    );
}

#[tokio::test(start_paused = true)]
async fn a_deletion_whose_answer_is_lost_is_done_when_tried_again() {
    let atlas = FakeAtlas::default();
    {
        let mut server = atlas.server.lock().unwrap();
        server.invites_api = true;
        server.pending.insert("ann@x.io".into(), "inv-1".into());
        server.lose_answers = 1;
    }
    let events = Arc::new(Events::default());
    let done = run_changes(
        &atlas,
        &events,
        vec![change("ann@x.io", Operation::Revoke, None)],
    )
    .await;
    assert_eq!(done[0].state, ChangeState::Done);
    // The DELETE that took effect, then the second try's lookups that find nothing: gone.
    assert_eq!(atlas.server.lock().unwrap().changes.len(), 1);
    assert!(atlas.server.lock().unwrap().pending.is_empty());
    assert!(done[0].detail.as_deref().unwrap().contains("already gone"));
    use AttemptOutcome::*;
    assert_eq!(
        events.outcomes("ann@x.io"),
        [Found, Unknown, NotFound, NotFound],
        "found and deleted, no answer; then nothing left to find"
    );
}
