//! What a simulator run looks like: [`SimConfig`] (organization, token, latency, rate limit and
//! fault rates), [`RateLimit`], and the [`Fault`]s that can be injected at random or scripted per
//! email address.
//!
//! This file only describes behaviour; `state.rs`, `admission.rs` and `faults.rs` carry it out.
//! Every knob has a neutral default so that `SimConfig::default()` is a well-behaved, instant,
//! fault-free Atlas.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use atlas_model::is_atlas_id;

/// Users per organization in Atlas, pending invitations included: `--max-org-users`'s default.
pub const DEFAULT_MAX_ORG_USERS: usize = 500;
/// Users per team in Atlas: `--max-team-users`'s default.
pub const DEFAULT_MAX_TEAM_USERS: usize = 250;

/// How a simulator behaves. `SimConfig::default()` is a perfect Atlas: any 24-hex organization
/// exists, any non-empty bearer token is accepted, there is no latency, no rate limit and no fault.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// When set, only this organization exists; other well-formed ids answer 404 `ORG_NOT_FOUND`.
    /// When unset, every 24-hex organization id exists.
    pub org_id: Option<String>,
    /// When set, the bearer token must equal it. When unset, any non-empty token is accepted.
    pub token: Option<String>,
    /// Fraction (0..=1) of invite POSTs answered 500 `UNEXPECTED_ERROR` without creating anything.
    pub fail_rate: f64,
    /// Token bucket applied per caller to every API request on the organization's invitation
    /// resources (the `rateLimits` listing itself is not metered). It is checked when the
    /// request arrives, before the simulated latency, as a server in front of Atlas does.
    pub rate_limit: Option<RateLimit>,
    /// Refuse like the older invitation limit did: 400 `INVITATIONS_RATE_LIMITED_IP` "Rate
    /// limit of N invitations per M minutes exceeded", with no `Retry-After`, no `RateLimit-*`
    /// headers, and no endpoint set in `GET /rateLimits`. The window is the time the bucket
    /// takes to refill its whole capacity.
    pub rate_limit_legacy: bool,
    /// Added before answering each API request.
    pub latency: Duration,
    /// Uniform extra latency in `0..latency_jitter`.
    pub latency_jitter: Duration,
    /// Seeds the random fault draws, so one request order always gets the same faults.
    pub seed: Option<u64>,
    /// Whether 429 answers carry `Retry-After`. Without it, only the detail text says
    /// "Please retry after N seconds", which clients must then parse or ignore.
    pub retry_after_header: bool,
    /// Fraction of invite POSTs that create the invitation and then close the connection
    /// without sending a single response byte ("record-then-drop").
    pub drop_rate: f64,
    /// Fraction of invite POSTs that never answer; nothing is created.
    pub hang_rate: f64,
    /// Fraction of invite POSTs answered 503 with an HTML page, as a proxy in front of Atlas
    /// would; nothing is created.
    pub html_503_rate: f64,
    /// When true, inviting an address that already has a pending invitation creates a second
    /// one instead of answering 409, so that a client's duplicate sends become visible.
    pub duplicate_invites: bool,
    /// Addresses (case-insensitive) that are already active members (`ORG_MEMBER`); inviting
    /// them answers 409.
    pub existing_members: Vec<String>,
    /// Addresses (case-insensitive) that are already active members with `ORG_OWNER`, so that
    /// the organization has owners the last of whom cannot be removed.
    pub existing_owners: Vec<String>,
    /// Users an organization may hold, pending invitations included (Atlas: 500, the
    /// default of `--max-org-users`). An invitation beyond it is refused with 400
    /// `MAX_USERS_PER_ORG_EXCEEDED`. `None`, the default here, holds any number, as the
    /// rate limit is off by default: tests of large runs need no more than a healthy Atlas.
    pub max_org_users: Option<usize>,
    /// Users a team may hold, pending invitations naming it included (Atlas: 250, the default
    /// of `--max-team-users`). An invitation or update beyond it is refused with 400
    /// `MAX_USERS_PER_TEAM_EXCEEDED`. `None`, the default here, holds any number.
    pub max_team_users: Option<usize>,
    /// Whether answers on the v2 invite paths carry `Deprecation` and `Sunset` headers, as the
    /// deprecated 2023-01-01 invitation resource does.
    pub deprecation_headers: bool,
    /// Per-address (case-insensitive) faults, consumed in order by that address's successive
    /// invite POSTs before any random fault is drawn. This is what makes tests deterministic.
    pub script: Vec<(String, Vec<Fault>)>,
    /// Service accounts `(client id, client secret)` that may get access tokens from
    /// `POST /api/oauth/token`.
    pub service_accounts: Vec<(String, String)>,
    /// Lifetime of the access tokens issued to service accounts (Atlas: one hour). Tests use a
    /// short one so that renewal is exercised.
    pub token_ttl: Duration,
    /// Programmatic API keys `(public key, private key)` accepted with HTTP Digest.
    pub api_keys: Vec<(String, String)>,
    /// The organization's teams `(id, name)`, served by `GET /orgs/{orgId}/teams`. When not
    /// empty, an invitation naming another team id is refused (404 `TEAM_NOT_FOUND`).
    pub teams: Vec<(String, String)>,
    /// The organization's projects `(id, name)`, served by `GET /orgs/{orgId}/groups`. When not
    /// empty, an invitation naming another project id is refused (404 `GROUP_NOT_FOUND`).
    pub projects: Vec<(String, String)>,
    /// Keep every request as received (method, path, media types, body), for tests that check
    /// what a client sends against the contract ([`SimState::recorded`]). Off by default: a
    /// long run would keep them all.
    ///
    /// [`SimState::recorded`]: crate::SimState::recorded
    pub record_requests: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            org_id: None,
            token: None,
            fail_rate: 0.0,
            rate_limit: None,
            rate_limit_legacy: false,
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            seed: None,
            retry_after_header: true,
            drop_rate: 0.0,
            hang_rate: 0.0,
            html_503_rate: 0.0,
            duplicate_invites: false,
            existing_members: Vec::new(),
            existing_owners: Vec::new(),
            max_org_users: None,
            max_team_users: None,
            deprecation_headers: true,
            script: Vec::new(),
            service_accounts: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            api_keys: Vec::new(),
            teams: Vec::new(),
            projects: Vec::new(),
            record_requests: false,
        }
    }
}

impl SimConfig {
    /// A realistic demonstration: 60 ms latency plus up to 40 ms jitter, 8 % of invitations
    /// failing with a 500, and a rate limit of 10 requests per second with a burst of 10.
    pub fn demo() -> SimConfig {
        SimConfig {
            latency: Duration::from_millis(60),
            latency_jitter: Duration::from_millis(40),
            fail_rate: 0.08,
            rate_limit: Some(RateLimit {
                per_second: 10.0,
                burst: 10,
            }),
            ..SimConfig::default()
        }
    }

    /// Appends scripted faults for `email`'s next invite POSTs (builder style, for tests).
    pub fn with_script(mut self, email: &str, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.script
            .push((email.to_owned(), faults.into_iter().collect()));
        self
    }

    /// Checks that every rate is a fraction, the rate limit can refill, and the configured
    /// organization id and token are usable. `Simulator::start` refuses a config that fails.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("fail_rate", self.fail_rate),
            ("drop_rate", self.drop_rate),
            ("hang_rate", self.hang_rate),
            ("html_503_rate", self.html_503_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        let total = self.fail_rate + self.drop_rate + self.hang_rate + self.html_503_rate;
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "the fault rates add up to {total}, more than 1 (every request can fail only once)"
            ));
        }
        if let Some(limit) = &self.rate_limit {
            if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
                return Err(format!(
                    "the rate limit must refill at a positive rate, got {} per second",
                    limit.per_second
                ));
            }
            if limit.burst == 0 {
                return Err("the rate limit burst must be at least 1".to_owned());
            }
        } else if self.rate_limit_legacy {
            return Err("the legacy rate limit needs a rate limit to refuse with".to_owned());
        }
        if let Some(org) = &self.org_id
            && !is_atlas_id(org)
        {
            return Err(format!(
                "the simulated organization id {org:?} is not 24 lower-case hex digits"
            ));
        }
        for (id, name) in self.teams.iter().chain(&self.projects) {
            if !is_atlas_id(id) || name.trim().is_empty() {
                return Err(format!(
                    "team or project {id:?} ({name:?}): the id must be 24 lower-case hex digits \
                     and the name not empty"
                ));
            }
        }
        if self.max_org_users == Some(0) || self.max_team_users == Some(0) {
            return Err("an organization and a team must each be able to hold one user".to_owned());
        }
        if let Some(token) = &self.token
            && token.trim().is_empty()
        {
            return Err("the simulated bearer token must not be empty".to_owned());
        }
        Ok(())
    }

    /// A short human description, one aspect per line, for the `simulate` command's stderr.
    pub fn describe(&self) -> String {
        let mut lines = Vec::new();
        lines.push(match &self.org_id {
            Some(org) => format!("organization: only {org} exists"),
            None => "organization: any 24-hex organization id exists".to_owned(),
        });
        lines.push(match &self.token {
            Some(_) => "auth: Bearer token must match the configured token".to_owned(),
            None => "auth: any non-empty Bearer token is accepted".to_owned(),
        });
        lines.push(if self.latency_jitter.is_zero() {
            format!("latency: {}", humantime::format_duration(self.latency))
        } else {
            format!(
                "latency: {} + up to {} jitter",
                humantime::format_duration(self.latency),
                humantime::format_duration(self.latency_jitter)
            )
        });
        lines.push(match &self.rate_limit {
            Some(limit) if self.rate_limit_legacy => format!(
                "rate limit: {} (the older invitation limit: 400 INVITATIONS_RATE_LIMITED_IP)",
                limit.legacy_text()
            ),
            Some(limit) => {
                let (refill, period) = limit.refill_parts();
                format!(
                    "rate limit: {} requests/s per token, burst {} (capacity {}, refill {refill} per {period} s){}",
                    limit.per_second,
                    limit.burst,
                    limit.burst,
                    if self.retry_after_header {
                        ""
                    } else {
                        " (no Retry-After header)"
                    }
                )
            }
            None => "rate limit: none".to_owned(),
        });
        let faults: Vec<String> = [
            ("500", self.fail_rate),
            ("record-then-drop", self.drop_rate),
            ("hang", self.hang_rate),
            ("HTML 503", self.html_503_rate),
        ]
        .into_iter()
        .filter(|(_, rate)| *rate > 0.0)
        .map(|(name, rate)| format!("{name} {:.1}%", rate * 100.0))
        .collect();
        lines.push(if faults.is_empty() {
            "random faults: none".to_owned()
        } else {
            format!("random faults: {}", faults.join(", "))
        });
        if let Some(seed) = self.seed {
            lines.push(format!("fault seed: {seed}"));
        }
        if !self.script.is_empty() {
            let scripted: usize = self.script.iter().map(|(_, f)| f.len()).sum();
            lines.push(format!(
                "scripted faults: {scripted} for {} address(es)",
                self.script.len()
            ));
        }
        if !self.existing_members.is_empty() || !self.existing_owners.is_empty() {
            lines.push(format!(
                "existing members: {} (owners: {})",
                self.existing_members.len() + self.existing_owners.len(),
                self.existing_owners.len()
            ));
        }
        let users = |max: Option<usize>| match max {
            Some(n) => format!("{n} users"),
            None => "any number of users".to_owned(),
        };
        lines.push(format!(
            "capacity: {} per organization, {} per team",
            users(self.max_org_users),
            users(self.max_team_users)
        ));
        if self.duplicate_invites {
            lines.push("duplicates: a repeated invitation creates a second one".to_owned());
        }
        if !self.teams.is_empty() || !self.projects.is_empty() {
            lines.push(format!(
                "directory: {} teams, {} projects",
                self.teams.len(),
                self.projects.len()
            ));
        }
        lines.join("\n")
    }
}

/// A token bucket: `burst` requests at once (its capacity), refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// The refill as Atlas states it, `refill` requests every `period` whole seconds: the
    /// shortest period of at most an hour that holds a whole number of requests (10/s is
    /// "10 per 1", five every six seconds "5 per 6").
    pub fn refill_parts(&self) -> (u64, u64) {
        for period in 1..=3600u64 {
            let count = self.per_second * period as f64;
            if count >= 1.0 - 1e-9 && (count - count.round()).abs() < 1e-6 * count.max(1.0) {
                return (count.round() as u64, period);
            }
        }
        ((self.per_second * 3600.0).round().max(1.0) as u64, 3600)
    }

    /// Seconds the bucket takes to refill its whole capacity: the older limit's window.
    pub fn window_secs(&self) -> f64 {
        f64::from(self.burst) / self.per_second
    }

    /// "Rate limit of 10 invitations per 1 minutes exceeded", as the older invitation limit
    /// words it (in seconds when the window is not whole minutes).
    pub fn legacy_text(&self) -> String {
        let window = self.window_secs();
        let minutes = window / 60.0;
        if minutes >= 1.0 && (minutes - minutes.round()).abs() < 1e-6 {
            format!(
                "Rate limit of {} invitations per {} minutes exceeded",
                self.burst,
                minutes.round() as u64
            )
        } else {
            format!(
                "Rate limit of {} invitations per {} seconds exceeded",
                self.burst,
                window.round().max(1.0) as u64
            )
        }
    }
}

/// One injected misbehaviour for one invite POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 500 `UNEXPECTED_ERROR`; nothing is created.
    Error500,
    /// 503 with an HTML page, as a proxy sends it; nothing is created.
    Html503,
    /// 429 `RATE_LIMITED`; `Retry-After` is sent only when `retry_after` is set.
    RateLimited { retry_after: Option<u64> },
    /// The invitation is created, then the connection closes without any answer.
    RecordThenDrop,
    /// No answer ever (until the client gives up or the server stops); nothing is created.
    Hang,
    /// 502 with an HTML page; nothing is created.
    BadGateway502Html,
    /// The invitation is created and the 200 body is cut off mid-JSON.
    TruncatedJson,
    /// The invitation is created and the 200 body has no `id`.
    OkWithoutId,
    /// An `ApiError` with this status; nothing is created.
    Status(u16),
    /// The server works on the request this many milliseconds longer, then creates the
    /// invitation and answers, whether or not the client is still there: a client that times
    /// out meanwhile has had its invitation created all the same.
    Slow(u64),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Error500 => f.write_str("500"),
            Fault::Html503 => f.write_str("html503"),
            Fault::RateLimited { retry_after: None } => f.write_str("429"),
            Fault::RateLimited {
                retry_after: Some(secs),
            } => write!(f, "429:{secs}"),
            Fault::RecordThenDrop => f.write_str("drop"),
            Fault::Hang => f.write_str("hang"),
            Fault::BadGateway502Html => f.write_str("html502"),
            Fault::TruncatedJson => f.write_str("truncated"),
            Fault::OkWithoutId => f.write_str("no-id"),
            Fault::Status(status) => write!(f, "status:{status}"),
            Fault::Slow(ms) => write!(f, "slow:{ms}"),
        }
    }
}

/// Parses the names `Display` prints: `500`, `html503`, `429`, `429:SECS`, `drop`, `hang`,
/// `html502`, `truncated`, `no-id`, `slow:MILLIS` and `status:CODE` (case-insensitive), so a command line can
/// script faults too.
impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Fault, String> {
        let norm = text.trim().to_ascii_lowercase();
        let fault = match norm.as_str() {
            "500" | "error500" => Fault::Error500,
            "html503" | "503" => Fault::Html503,
            "429" => Fault::RateLimited { retry_after: None },
            "drop" | "record-then-drop" => Fault::RecordThenDrop,
            "hang" => Fault::Hang,
            "html502" | "502" => Fault::BadGateway502Html,
            "truncated" | "truncated-json" => Fault::TruncatedJson,
            "no-id" | "ok-without-id" => Fault::OkWithoutId,
            other => {
                if let Some(secs) = other.strip_prefix("429:") {
                    let secs = secs
                        .parse()
                        .map_err(|_| format!("bad Retry-After seconds in fault {text:?}"))?;
                    Fault::RateLimited {
                        retry_after: Some(secs),
                    }
                } else if let Some(ms) = other.strip_prefix("slow:") {
                    Fault::Slow(ms.parse().map_err(|_| {
                        format!("fault {text:?} needs milliseconds, like slow:3000")
                    })?)
                } else if let Some(code) = other.strip_prefix("status:") {
                    match code.parse::<u16>() {
                        Ok(code) if (400..=599).contains(&code) => Fault::Status(code),
                        _ => return Err(format!("fault {text:?} needs a status from 400 to 599")),
                    }
                } else {
                    return Err(format!(
                        "unknown fault {text:?} (expected 500, html503, 429, 429:SECS, drop, \
                         hang, html502, truncated, no-id, slow:MILLIS or status:CODE)"
                    ));
                }
            }
        };
        Ok(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_through_their_names() {
        let all = [
            Fault::Error500,
            Fault::Html503,
            Fault::RateLimited { retry_after: None },
            Fault::RateLimited {
                retry_after: Some(7),
            },
            Fault::RecordThenDrop,
            Fault::Hang,
            Fault::BadGateway502Html,
            Fault::TruncatedJson,
            Fault::OkWithoutId,
            Fault::Status(403),
        ];
        for fault in all {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        assert!("status:200".parse::<Fault>().is_err());
        assert!("explode".parse::<Fault>().is_err());
    }

    #[test]
    fn validation_rejects_impossible_configs() {
        assert!(SimConfig::default().validate().is_ok());
        assert!(SimConfig::demo().validate().is_ok());
        let too_many = SimConfig {
            fail_rate: 0.7,
            drop_rate: 0.7,
            ..SimConfig::default()
        };
        assert!(too_many.validate().is_err());
        let bad_org = SimConfig {
            org_id: Some("not-an-org".into()),
            ..SimConfig::default()
        };
        assert!(bad_org.validate().is_err());
        let no_refill = SimConfig {
            rate_limit: Some(RateLimit {
                per_second: 0.0,
                burst: 5,
            }),
            ..SimConfig::default()
        };
        assert!(no_refill.validate().is_err());
    }

    #[test]
    fn refills_are_stated_in_whole_numbers() {
        let limit = |per_second, burst| RateLimit { per_second, burst };
        assert_eq!(limit(10.0, 10).refill_parts(), (10, 1));
        assert_eq!(limit(5.0 / 6.0, 10).refill_parts(), (5, 6));
        assert_eq!(limit(5.0 / 60.0, 10).refill_parts(), (1, 12));
        assert_eq!(limit(0.01, 2).refill_parts(), (1, 100));
        assert_eq!(
            limit(10.0 / 60.0, 10).legacy_text(),
            "Rate limit of 10 invitations per 1 minutes exceeded"
        );
        assert_eq!(
            limit(10.0 / 6.0, 10).legacy_text(),
            "Rate limit of 10 invitations per 6 seconds exceeded"
        );
        let legacy_alone = SimConfig {
            rate_limit_legacy: true,
            ..SimConfig::default()
        };
        assert!(legacy_alone.validate().is_err());
    }

    #[test]
    fn demo_is_realistic() {
        let demo = SimConfig::demo();
        assert!(
            demo.describe()
                .contains("capacity: any number of users per organization")
        );
        assert_eq!(demo.latency, Duration::from_millis(60));
        assert!(demo.fail_rate > 0.0);
        assert!(demo.retry_after_header && demo.deprecation_headers);
        assert!(demo.describe().contains("10 requests/s"));
    }
}
