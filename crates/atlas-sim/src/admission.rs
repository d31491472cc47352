//! What every API request goes through before a resource does its own work, in the order Atlas
//! applies the checks, and the counting around it. The invite paths (`routes.rs`), the users
//! resource (`users.rs`) and the teams and projects listings (`directory.rs`) all admit their
//! requests here, each describing itself with an [`Endpoint`].
//!
//! Order, and why:
//! 1. latency (every API request waits, even ones that are then refused); the token bucket is
//!    consulted before it, though, when the request arrives (see [`counted`]);
//! 2. method (405 with `Allow` for what the resource does not simulate);
//! 3. authentication (401), because Atlas identifies the caller before anything else;
//! 4. rate limit (429, or the older invitation limit's 400), after authentication because
//!    Atlas meters each authenticated principal, so a request with a bad token does not spend
//!    anybody's tokens;
//! 5. API version negotiation (406 `INVALID_VERSION_DATE`), where the path is versioned;
//! 6. organization id format (400 `INVALID_ORG_ID`) and existence (404 `ORG_NOT_FOUND`).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;

use atlas_model::{ApiError, is_atlas_id};

use super::reply::Reply;
use super::state::{RateDecision, SimState, bump};

/// Bodies larger than this are refused; an invitation request is a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// What differs between resources in the checks before their own work.
pub(super) struct Endpoint {
    /// The methods simulated on the resource; any other answers 405.
    pub(super) methods: &'static [Method],
    /// The same methods as the 405's `Allow` header lists them.
    pub(super) allow: &'static str,
    /// The `errorCode` of a 429 from the token bucket.
    pub(super) rate_limited_code: &'static str,
    /// Version negotiation through `Accept`, on versioned paths only.
    pub(super) versioning: Option<Versioning>,
}

/// The one API version a resource is simulated in.
pub(super) struct Versioning {
    /// The media type `Accept` must name explicitly; `*/*` and `application/json` do not select
    /// a version, and Atlas refuses them.
    pub(super) media_type: &'static str,
    /// How the 406 detail names the version, before "send Accept: ...".
    pub(super) only: &'static str,
}

/// The token bucket's decision for a request, taken when it arrived: a real server meters
/// arrivals, and the simulated latency comes after. `None` when the caller could not be
/// identified on arrival (the 401 comes later, in [`admit`]).
#[derive(Debug, Clone, Copy)]
struct Arrival(Option<RateDecision>);

/// Marks a rate-limit refusal answered with another status than 429 (the older limit's 400),
/// so that it is counted as a rate limit rather than a bad request.
#[derive(Debug, Clone, Copy)]
pub(super) struct RateRefusal;

/// Counts the request by method, takes its token from the caller's bucket, waits the
/// simulated latency, lets `answer` answer it, and counts the outcome by status.
pub(super) async fn counted<F, Fut>(
    sim: &SimState,
    per_method: &[(Method, &AtomicU64)],
    mut request: Request,
    answer: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if let Some((_, counter)) = per_method.iter().find(|(m, _)| m == request.method()) {
        bump(counter);
    }
    let path_and_query = request.uri().path_and_query().map_or("", |p| p.as_str());
    let decision = sim
        .authenticate(request.method(), path_and_query, request.headers())
        .ok()
        .map(|caller| sim.take_token(&caller));
    request.extensions_mut().insert(Arrival(decision));
    wait_latency(sim).await;
    let response = answer(request).await;
    let counters = &sim.counters;
    if response.extensions().get::<RateRefusal>().is_some() {
        bump(&counters.rate_limited);
        return response;
    }
    match response.status().as_u16() {
        400 => bump(&counters.bad_requests),
        401 => bump(&counters.unauthorized),
        409 => bump(&counters.conflicts),
        429 => bump(&counters.rate_limited),
        500..=599 => bump(&counters.server_errors),
        _ => {}
    }
    response
}

/// Sleeps the configured latency plus a uniform jitter.
pub(super) async fn wait_latency(sim: &SimState) {
    let config = sim.config();
    let jitter = config.latency_jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
    let extra = if jitter == 0 {
        Duration::ZERO
    } else {
        // The jitter does not use the seeded fault generator, so that how many GETs happened
        // does not change which POST gets which fault.
        Duration::from_nanos(fastrand::u64(0..jitter))
    };
    let total = config.latency + extra;
    if !total.is_zero() {
        tokio::time::sleep(total).await;
    }
}

/// Checks steps 2 to 6 for a request to `org_id` on `endpoint`, and returns the finished
/// answer that refuses it, or `None` once it is admitted. From then on `reply` carries the
/// caller's rate-limit headers for every later answer.
///
/// An `Option` rather than a `Result`: a refusal is not an error to propagate but an ordinary
/// answer, handed straight back to axum.
pub(super) fn admit(
    sim: &SimState,
    endpoint: &Endpoint,
    parts: &Parts,
    org_id: &str,
    reply: &mut Reply,
) -> Option<Response> {
    if !endpoint.methods.contains(&parts.method) {
        let mut response = reply.fail(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "The simulator does not support {} on this resource.",
                parts.method
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(endpoint.allow));
        return Some(response);
    }

    let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let caller = match sim.authenticate(&parts.method, path_and_query, &parts.headers) {
        Ok(caller) => caller,
        Err(denial) => return Some(reply.decorate(super::auth::unauthorized(sim, denial.detail))),
    };
    let decision = match parts.extensions.get::<Arrival>() {
        Some(Arrival(Some(decision))) => *decision,
        _ => sim.take_token(&caller),
    };
    let config = sim.config();
    match (decision, config.rate_limit) {
        (RateDecision::Unlimited, _) | (_, None) => {}
        // The older limit sent no rate-limit headers at all.
        (RateDecision::Allowed { .. }, Some(_)) if config.rate_limit_legacy => {}
        (RateDecision::Allowed { limit, remaining }, Some(_)) => {
            reply.rate = Some((limit, remaining));
        }
        (RateDecision::Limited { .. }, Some(bucket)) if config.rate_limit_legacy => {
            let mut response = reply.fail(400, "INVITATIONS_RATE_LIMITED_IP", bucket.legacy_text());
            response.extensions_mut().insert(RateRefusal);
            return Some(response);
        }
        (RateDecision::Limited { limit, retry_after }, Some(bucket)) => {
            reply.rate = Some((limit, 0));
            let header = config.retry_after_header.then_some(retry_after);
            let (refill, period) = bucket.refill_parts();
            let stated = super::reply::StatedBucket {
                set: super::rate_limits::INVITATIONS_SET_NAME,
                capacity: bucket.burst,
                refill,
                period,
            };
            return Some(reply.rate_limited(
                endpoint.rate_limited_code,
                header,
                Some(retry_after),
                Some(stated),
            ));
        }
    }

    if let Some(versioning) = &endpoint.versioning
        && !accepts(&parts.headers, versioning.media_type)
    {
        return Some(reply.fail(
            406,
            "INVALID_VERSION_DATE",
            format!(
                "Invalid accept header or version date. {}: send Accept: {}.",
                versioning.only, versioning.media_type
            ),
        ));
    }

    if !is_atlas_id(org_id) {
        return Some(reply.fail(
            400,
            "INVALID_ORG_ID",
            format!("An invalid organization ID {org_id} was specified."),
        ));
    }
    if !sim.org_exists(org_id) {
        return Some(reply.fail(
            404,
            "ORG_NOT_FOUND",
            format!("No organization with ID {org_id} exists."),
        ));
    }
    None
}

/// A POST's body as `validate` reads it, or the 400 for a body that cannot be read, is too
/// large, or does not validate.
pub(super) async fn read_valid<T>(
    body: Body,
    reply: &Reply,
    validate: impl FnOnce(&[u8]) -> Result<T, Box<ApiError>>,
) -> Result<T, Response> {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Err(reply.fail(
            400,
            "INVALID_JSON",
            "The request body could not be read, or is larger than 1 MiB.",
        ));
    };
    validate(&bytes).map_err(|error| reply.error(*error))
}

/// The media types of a header, lower-cased and without parameters (`; charset=...`, `q=`).
pub(super) fn media_types(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| {
            item.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Whether `Accept` names `media_type` explicitly.
pub(super) fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    media_types(headers, header::ACCEPT)
        .iter()
        .any(|media| media == media_type)
}
