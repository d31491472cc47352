//! The run's tally, built only from committed pipeline events, and the final summary in text
//! or JSON.
//!
//! The JSON summary (`run --format json`) is a stable interface for scripts: fields are only
//! ever added, never renamed or removed.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::atlas::rate_limits::BucketLimit;
use crate::pipeline::rate::{GateView, RateSetting};
use crate::terminal::safe;
use crate::util::human_duration;
use crate::vocab::{Counts, Tally};

/// Most failed rows listed in the text summary; the JSON summary lists them all.
const MAX_FAILURES_SHOWN: usize = 20;

/// One row that did not end done, as the JSON summary lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemRow {
    /// Line of the CSV, for invalid rows.
    pub line: Option<u64>,
    pub email: String,
    pub status: &'static str,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    pub detail: Option<String>,
    pub attempts: u32,
}

/// Atlas's rate limit as the run saw it: the bucket, and where it was learned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimitSeen {
    pub capacity: u64,
    /// Requests added to the bucket every `refill_period_secs`.
    pub refill: u64,
    pub refill_period_secs: f64,
    /// `rateLimits` (declared by `GET /rateLimits`), `429` (a refusal's detail) or `legacy 400`.
    pub source: &'static str,
}

/// The final summary of a run. `Default` is an empty run that exited 0.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub run_id: Option<i64>,
    pub org_id: String,
    pub csv: String,
    pub journal: String,
    pub dry_run: bool,
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    pub duplicates: u64,
    /// Rows left out of the run by `--where` (or by rules with `unmatched = "skip"`); not
    /// counted in `rows`.
    pub filtered_out: u64,
    /// Valid rows already done in an earlier run, not sent again.
    pub skipped: u64,
    /// `invited` … `rate_limited`, at this place of the JSON object.
    #[serde(flatten)]
    pub counts: Counts,
    pub duration_secs: f64,
    /// Requests per second over the run.
    pub rate_per_sec: f64,
    /// `--rate`: `auto`, or `at most 10/s`.
    pub rate_setting: String,
    /// Atlas's rate limit, when the run learned it.
    pub rate_limit: Option<RateLimitSeen>,
    /// The pace at the end of the run, in requests per second.
    pub pace_per_sec: Option<f64>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The `Sunset` date Atlas announced for the endpoint in use, if it did.
    pub sunset: Option<String>,
    pub exit_code: i32,
    pub problems: Vec<ProblemRow>,
    /// `run --dry-run --format json`: every person of the file with what the run would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedPerson>>,
}

/// One person of a dry run's plan, as `--dry-run --format json` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPerson {
    pub line: u64,
    pub email: String,
    /// `send`, `check, then send` (left in flight by an earlier run), `send (lapsed)`, or
    /// `skip (STATUS)`.
    pub action: String,
    /// Whether the run would send anything for the person.
    pub sends: bool,
    pub roles: Vec<String>,
    pub team_ids: Vec<String>,
    /// `[{"groupId": …, "roles": […]}]`.
    pub projects: Vec<crate::atlas::model::GroupRoleAssignment>,
    /// The grants in one phrase, names still to resolve included.
    pub grants: String,
    /// For `update` (and a difference reported with `--no-update`): old → new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
}

impl Summary {
    /// Fills the pipeline's part from a tally.
    pub fn apply_tally(&mut self, tally: &Tally, duration: Duration) {
        self.counts = tally.counts.clone();
        self.sunset = tally.sunset.clone();
        self.duration_secs = duration.as_secs_f64();
        self.rate_per_sec = if duration.as_secs_f64() > 0.0 {
            tally.counts.requests as f64 / duration.as_secs_f64()
        } else {
            0.0
        };
        self.problems
            .extend(tally.problems.iter().map(|r| ProblemRow {
                line: None,
                email: r.email.clone(),
                status: r.status.as_str(),
                http_status: r.http_status,
                error_code: r.error_code.clone(),
                detail: r.detail.clone(),
                attempts: r.attempts,
            }));
        self.problems
            .extend(tally.change_problems.iter().map(|c| ProblemRow {
                line: None,
                email: c.email.clone(),
                status: if c.state == crate::vocab::ChangeState::Planned {
                    "unfinished"
                } else {
                    "failed"
                },
                http_status: c.http_status,
                error_code: c.error_code.clone(),
                detail: Some(match c.detail.as_deref() {
                    Some(detail) => format!("{}: {detail}", c.operation),
                    None => c.operation.to_string(),
                }),
                attempts: c.attempts,
            }));
    }

    /// Fills in what the rate gate knew at the end of the run.
    pub fn apply_gate(&mut self, setting: RateSetting, gate: &GateView) {
        self.rate_setting = setting.to_string();
        self.pace_per_sec = Some(gate.rate_per_sec);
        self.rate_limit = gate.learned.map(|learned| RateLimitSeen {
            capacity: learned.limit.capacity,
            refill: learned.limit.refill,
            refill_period_secs: learned.limit.per.as_secs_f64(),
            source: learned.source.as_str(),
        });
    }

    /// Rows done, now or in an earlier run.
    pub fn done(&self) -> u64 {
        self.skipped
            + self.counts.invited
            + self.counts.already_invited
            + self.counts.already_member
    }

    /// "Atlas allows 5 per 60 s, capacity 10 (from GET /rateLimits); paced at 0.08/s".
    fn limit_text(&self) -> String {
        let pace = self
            .pace_per_sec
            .map(|p| format!("paced at {p:.2}/s at the end"))
            .unwrap_or_default();
        match &self.rate_limit {
            Some(limit) => {
                let from = match limit.source {
                    "rateLimits" => "declared by GET /rateLimits",
                    "429" => "stated by a 429",
                    _ => "stated by the older invitation limit's 400",
                };
                let bucket = BucketLimit::new(
                    limit.capacity,
                    limit.refill,
                    Duration::from_secs_f64(limit.refill_period_secs),
                )
                .map(|b| b.to_string())
                .unwrap_or_default();
                format!("Atlas allows {bucket} ({from}); {pace}")
            }
            None => format!("Atlas's limit was not stated; {pace}"),
        }
    }

    /// Why the exit code is not 0, in one line, for `--quiet` (which prints no summary);
    /// `None` for a run that exits 0.
    pub fn error_line(&self) -> Option<String> {
        if self.exit_code == 0 {
            return None;
        }
        if let Some(reason) = &self.stopped {
            return Some(format!("run stopped: {reason}"));
        }
        if self.dry_run {
            // A dry run fails only for invalid rows; its "unfinished" are the rows it would send.
            return Some(format!(
                "{} of {} rows invalid (atlas-invite validate lists them)",
                self.invalid, self.rows
            ));
        }
        let not_done = self.counts.failed + self.counts.unfinished + self.invalid;
        let counts = format!(
            "{not_done} of {} rows not done: {} invalid, {} failed, {} unfinished",
            self.rows, self.invalid, self.counts.failed, self.counts.unfinished
        );
        Some(match self.run_id {
            Some(id) => format!("{counts} (atlas-invite report --run {id} lists them)"),
            None => counts,
        })
    }

    /// The summary as one JSON object on one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The summary for people. Paths, addresses and Atlas's words come from outside: each is
    /// made terminal-safe where it is written in.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run { "Dry run" } else { "Run" };
        let id = self.run_id.map(|id| format!(" {id}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{verb}{id} for org {} from {}",
            safe(&self.org_id),
            safe(&self.csv)
        );
        let _ = write!(
            out,
            "  rows {}: valid {}, invalid {}, duplicates {}",
            self.rows, self.valid, self.invalid, self.duplicates
        );
        if self.filtered_out > 0 {
            let _ = write!(out, " ({} more filtered out)", self.filtered_out);
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "  done {} of {}: invited {}, already invited {}, already member {}, skipped (done earlier) {}",
            self.done(),
            self.valid,
            self.counts.invited,
            self.counts.already_invited,
            self.counts.already_member,
            self.skipped
        );
        let c = &self.counts;
        if c.updated + c.revoked + c.removed + c.kept > 0 {
            let _ = writeln!(
                out,
                "  changes: updated {}, revoked {}, removed {}, left alone {}",
                c.updated, c.revoked, c.removed, c.kept
            );
        }
        if self.counts.failed + self.counts.unfinished > 0 {
            let _ = writeln!(
                out,
                "  not done: failed {}, unfinished {}",
                self.counts.failed, self.counts.unfinished
            );
        }
        if !self.dry_run {
            let _ = writeln!(
                out,
                "  requests {} ({} retries, {} rate-limited) in {} at {:.1}/s",
                self.counts.requests,
                self.counts.retries,
                self.counts.rate_limited,
                human_duration(Duration::from_secs_f64(self.duration_secs)),
                self.rate_per_sec
            );
        }
        if !self.dry_run && !self.rate_setting.is_empty() {
            let _ = writeln!(out, "  rate {}: {}", self.rate_setting, self.limit_text());
        }
        // Rows with the same status and reason (one unknown team name in a rule can make every
        // row invalid) are shown once, with how many more there are.
        let mut groups: Vec<(&ProblemRow, u64)> = Vec::new();
        let mut group_of: std::collections::HashMap<(&str, Option<&str>), usize> =
            std::collections::HashMap::new();
        for p in &self.problems {
            let key = (p.status, p.detail.as_deref().filter(|d| !d.is_empty()));
            match group_of.get(&key) {
                Some(&i) => groups[i].1 += 1,
                None => {
                    group_of.insert(key, groups.len());
                    groups.push((p, 0));
                }
            }
        }
        for (p, more) in groups.iter().take(MAX_FAILURES_SHOWN) {
            let mut line = match p.line {
                Some(n) => format!("  {} line {n} {}", p.status, safe(&p.email)),
                None => format!("  {} {}", p.status, safe(&p.email)),
            };
            if let Some(detail) = p.detail.as_deref().filter(|d| !d.is_empty()) {
                let _ = write!(line, ": {}", safe(detail));
            }
            if *more > 0 {
                let rows = if *more == 1 { "row" } else { "rows" };
                let _ = write!(line, " (and {more} more {rows} with the same problem)");
            }
            let _ = writeln!(out, "{line}");
        }
        let hidden: u64 = groups
            .iter()
            .skip(MAX_FAILURES_SHOWN)
            .map(|(_, more)| more + 1)
            .sum();
        if hidden > 0 {
            // A dry run writes no journal: only its JSON summary lists every row.
            let _ = if self.dry_run {
                writeln!(out, "  … and {hidden} more (--format json lists every row)")
            } else if let Some(id) = self.run_id {
                writeln!(
                    out,
                    "  … and {hidden} more (atlas-invite report --run {id} lists every row)"
                )
            } else {
                writeln!(
                    out,
                    "  … and {hidden} more (see the journal: sqlite3 {})",
                    safe(&self.journal)
                )
            };
        }
        if let Some(sunset) = &self.sunset {
            let _ = writeln!(
                out,
                "  note: Atlas has deprecated this endpoint (Sunset: {}); switch with --api users",
                safe(sunset)
            );
        }
        if let Some(reason) = &self.stopped {
            let _ = writeln!(out, "  stopped early: {}", safe(reason));
        }
        if !self.dry_run
            && self.counts.failed + self.counts.unfinished > 0
            && self.stopped.is_none()
        {
            let _ = writeln!(
                out,
                "  rerun the same command to retry what is not done; done rows are not sent again"
            );
        }
        if self.dry_run {
            let _ = write!(
                out,
                "  journal: {} (untouched: a dry run writes nothing)",
                safe(&self.journal)
            );
        } else {
            let _ = write!(out, "  journal: {}", safe(&self.journal));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::InviteStatus;
    use crate::vocab::events::{AttemptKind, AttemptOutcome, AttemptRecord, Event, RowResult};
    use std::time::SystemTime;

    fn finished(email: &str, status: InviteStatus) -> Event {
        Event::Finished(RowResult {
            email_key: crate::vocab::EmailKey::of(email),
            email: email.into(),
            status,
            invitation_id: None,
            http_status: Some(400),
            error_code: Some("INVALID_ROLE".into()),
            detail: Some("no such role".into()),
            attempts: 1,
            last_attempt: None,
        })
    }

    #[test]
    fn tally_counts_statuses_requests_and_rate_limits() {
        let mut tally = Tally::default();
        tally.observe(&finished("a@x.com", InviteStatus::Invited));
        tally.observe(&finished("b@x.com", InviteStatus::Failed));
        tally.observe(&finished("c@x.com", InviteStatus::Pending));
        tally.observe(&finished("d@x.com", InviteStatus::AlreadyMember));
        tally.observe(&Event::Attempt(AttemptRecord {
            email_key: crate::vocab::EmailKey::of("a@x.com"),
            attempt: 1,
            kind: AttemptKind::Invite,
            endpoint: "POST",
            sent_at: SystemTime::now(),
            latency: Duration::ZERO,
            http_status: Some(429),
            error_code: None,
            detail: None,
            outcome: AttemptOutcome::RateLimited,
        }));
        assert_eq!(tally.counts.invited, 1);
        assert_eq!(tally.counts.failed, 1);
        assert_eq!(tally.counts.unfinished, 1);
        assert_eq!(tally.counts.already_member, 1);
        assert_eq!(tally.counts.requests, 1);
        assert_eq!(tally.counts.rate_limited, 1);
        assert_eq!(tally.finished(), 4);
        assert_eq!(tally.problems.len(), 2);
    }

    #[test]
    fn text_summary_names_failures_and_how_to_resume() {
        let mut tally = Tally::default();
        tally.observe(&finished("b@x.com", InviteStatus::Failed));
        let mut summary = Summary {
            run_id: Some(4),
            org_id: "5f1e2d3c4b5a697887766554".into(),
            csv: "people.csv".into(),
            journal: "atlas-invite.db".into(),
            rows: 3,
            valid: 3,
            skipped: 2,
            exit_code: 1,
            ..Summary::default()
        };
        summary.apply_tally(&tally, Duration::from_secs(2));
        let text = summary.to_text();
        assert!(text.contains("done 2 of 3"), "{text}");
        assert!(text.contains("failed b@x.com: no such role"), "{text}");
        assert!(text.contains("rerun the same command"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        assert_eq!(json["failed"], 1);
        assert_eq!(json["problems"][0]["error_code"], "INVALID_ROLE");
    }

    #[test]
    fn the_summary_states_the_limit_seen() {
        use crate::pipeline::rate::{Learned, LimitSource};
        let mut summary = Summary::default();
        let view = GateView {
            learned: Some(Learned {
                limit: BucketLimit::new(10, 5, Duration::from_secs(60)).unwrap(),
                source: LimitSource::Declared,
            }),
            rate_per_sec: 0.079,
            next_in: Duration::ZERO,
            ready: 0,
            refusals: 0,
        };
        summary.apply_gate(RateSetting::Auto, &view);
        let text = summary.to_text();
        assert!(
            text.contains(
                "rate auto: Atlas allows 5 per 60 s, capacity 10 (declared by GET /rateLimits)"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
        assert_eq!(json["rate_setting"], "auto");
        assert_eq!(json["rate_limit"]["capacity"], 10);
        assert_eq!(json["rate_limit"]["refill"], 5);
        assert_eq!(json["rate_limit"]["refill_period_secs"], 60.0);
        assert_eq!(json["rate_limit"]["source"], "rateLimits");
    }
}
