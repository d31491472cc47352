//! `report --format html`: one self-contained page an auditor can attach to a ticket. Counts per
//! status, every run on a timeline (invitations per minute, rate-limit pauses), pending
//! invitations by expiry date, and failures with their reasons.
//!
//! The page needs nothing but itself: inline CSS, inline SVG charts, no script, no font, no
//! image, no link to fetch — so it opens the same offline, in a mail client or years later.
//! Every text from the journal (emails, Atlas's error details, CSV paths, host names) comes from
//! outside and goes through [`text`]: invisible and control characters are shown, then HTML is
//! escaped, so an address like `<script>…` is printed, never run.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;

use super::render::ReportFormat;
use crate::journal::{InviteReport, InviteStatus, MembershipState, RunReport, TimelineAttempt};

/// What `report --format` accepts: the four listing formats every audit command shares, and
/// the page only `report` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportCommandFormat {
    /// Aligned columns for people; long cells are shortened with `…`.
    Table,
    /// Every field, one row per line, safe to open in a spreadsheet.
    Csv,
    /// One JSON array of objects (pretty-printed).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// One self-contained HTML page: counts, a timeline of runs, pending invitations by
    /// expiry, failures (no script, nothing fetched).
    Html,
}

impl ReportCommandFormat {
    /// The listing format, or `None` for the HTML page.
    pub fn listing(self) -> Option<ReportFormat> {
        match self {
            ReportCommandFormat::Table => Some(ReportFormat::Table),
            ReportCommandFormat::Csv => Some(ReportFormat::Csv),
            ReportCommandFormat::Json => Some(ReportFormat::Json),
            ReportCommandFormat::Jsonl => Some(ReportFormat::Jsonl),
            ReportCommandFormat::Html => None,
        }
    }
}

/// Everything the page shows, already filtered by the caller.
pub struct Page<'a> {
    /// When the page was made; expiry dates are counted from it.
    pub now: SystemTime,
    /// The journal read, as the user named it.
    pub journal: String,
    /// The `report` options given, as `(option, value)`; empty when everybody is listed.
    pub filters: Vec<(String, String)>,
    /// The people `report` lists with these filters.
    pub people: &'a [InviteReport],
    /// The runs to draw, oldest first.
    pub runs: &'a [RunReport],
    /// Every request of those runs (for everybody: a pause holds up the whole run).
    pub attempts: &'a [TimelineAttempt],
    /// True when a filter keeps some people out: then the bars count only the requests made
    /// for the people listed.
    pub people_filtered: bool,
    /// When the last `reconcile` finished, if ever: membership and expiry are as of then.
    pub last_reconcile: Option<String>,
}

/// `text` HTML-escaped, for element content and quoted attribute values alike.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text from outside, ready for the page: control characters become spaces and invisible ones
/// a visible `<U+200B>` (as on a terminal, so that an address holding one does not look like a
/// clean one), then HTML is escaped.
pub fn text(value: &str) -> String {
    escape(&crate::terminal::safe(value)).into_owned()
}

/// The whole page.
pub fn render_page(page: &Page<'_>) -> String {
    let mut html = String::with_capacity(64 * 1024);
    html.push_str(HEAD);
    header(&mut html, page);
    status_counts(&mut html, page);
    timeline(&mut html, page);
    pending_by_expiry(&mut html, page);
    failures(&mut html, page);
    everybody(&mut html, page);
    let _ = write!(
        html,
        "<footer>atlas-invite {} &middot; one self-contained page: no script, nothing fetched\
         </footer>\n</main>\n</body>\n</html>\n",
        escape(env!("CARGO_PKG_VERSION"))
    );
    html
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>atlas-invite report</title>
<style>
:root { color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --card: #f6f8fa;
  --ok: #1a7f37; --already: #0969da; --fail: #cf222e; --invalid: #8250df; --wait: #9a6700;
  --pause: rgba(212, 130, 0, 0.22); --grid: #e4e8ec; }
@media (prefers-color-scheme: dark) { :root {
  --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --card: #151b23;
  --ok: #3fb950; --already: #4493f8; --fail: #f85149; --invalid: #ab7df8; --wait: #d29922;
  --pause: rgba(210, 153, 34, 0.25); --grid: #262c36; } }
@media print { :root { color-scheme: light;
  --bg: #ffffff; --fg: #000000; --muted: #444c56; --line: #bbbbbb; --card: #ffffff;
  --ok: #1a7f37; --already: #0969da; --fail: #cf222e; --invalid: #8250df; --wait: #9a6700;
  --pause: rgba(212, 130, 0, 0.22); --grid: #dddddd; }
  body { font-size: 10pt; } section, .run { break-inside: avoid; }
  details:not([open]) { display: none; } }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
  padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 4px; }
.muted, footer { color: var(--muted); } footer { margin-top: 32px; font-size: 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--muted);
  border-radius: 6px; padding: 6px 10px; flex: 1 1 0; min-width: 96px; }
.card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.card.invited { border-left-color: var(--ok); } .card.already_invited, .card.already_member
  { border-left-color: var(--already); } .card.failed { border-left-color: var(--fail); }
.card.invalid { border-left-color: var(--invalid); } .card.pending, .card.in_flight
  { border-left-color: var(--wait); } .card.total { border-left-color: var(--fg); }
.stack { display: flex; height: 10px; border-radius: 5px; overflow: hidden; margin: 10px 0;
  background: var(--grid); }
.s-invited { background: var(--ok); } .s-already_invited, .s-already_member
  { background: var(--already); } .s-failed { background: var(--fail); }
.s-invalid { background: var(--invalid); } .s-pending, .s-in_flight { background: var(--wait); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; } td.n, th.n { text-align: right;
  font-variant-numeric: tabular-nums; white-space: nowrap; }
.run { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; margin: 10px 0; }
svg { display: block; width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg text { fill: var(--muted); } .grid { stroke: var(--grid); stroke-width: 1; }
.bar-invited { fill: var(--ok); } .bar-already { fill: var(--already); }
.pause { fill: var(--pause); } .tick-429 { stroke: var(--wait); stroke-width: 2; }
.tick-err { stroke: var(--fail); stroke-width: 2; } .end { stroke: var(--muted);
  stroke-dasharray: 3 3; } .span { fill: var(--already); } .axis { stroke: var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted);
  margin: 4px 0; } .legend i { display: inline-block; width: 10px; height: 10px;
  margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
.meter { display: inline-block; height: 10px; background: var(--wait); border-radius: 2px;
  vertical-align: middle; }
.status { white-space: nowrap; } td.email { min-width: 15em; }
summary { cursor: pointer; color: var(--muted); }
</style>
</head>
<body>
<main>
"#;

fn header(html: &mut String, page: &Page<'_>) {
    let orgs: Vec<&str> = page
        .people
        .iter()
        .map(|p| p.org_id.as_str())
        .chain(page.runs.iter().map(|r| r.org_id.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    html.push_str("<header>\n<h1>Atlas invitations</h1>\n<dl class=\"meta\">\n");
    let org_text = if orgs.is_empty() {
        "none in this report".to_owned()
    } else {
        orgs.iter().map(|o| text(o)).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(
        html,
        "<dt>Organization</dt><dd>{org_text}</dd>\n<dt>Journal</dt><dd>{}</dd>\n\
         <dt>Generated</dt><dd>{}</dd>",
        text(&page.journal),
        when(&crate::util::rfc3339(page.now))
    );
    let filters = if page.filters.is_empty() {
        "none: everybody in the journal".to_owned()
    } else {
        page.filters
            .iter()
            .map(|(option, value)| format!("<code>{} {}</code>", escape(option), text(value)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(html, "<dt>Filters</dt><dd>{filters}</dd>");
    let membership = match &page.last_reconcile {
        Some(at) => format!("as of the last reconcile, {}", when(at)),
        None => "unknown: no reconcile recorded yet (run <code>atlas-invite reconcile</code>)"
            .to_owned(),
    };
    let _ = writeln!(
        html,
        "<dt>Membership</dt><dd>{membership}</dd>\n</dl>\n</header>"
    );
}

fn status_counts(html: &mut String, page: &Page<'_>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for person in page.people {
        *counts.entry(person.status.as_str()).or_default() += 1;
    }
    // The known statuses in the order summaries use, then any a newer tool wrote.
    let mut order: Vec<&str> = InviteStatus::ALL.iter().map(|s| s.as_str()).collect();
    for status in counts.keys() {
        if !order.contains(status) {
            order.push(status);
        }
    }
    let total = page.people.len();
    html.push_str("<section id=\"counts\">\n<h2>People by status</h2>\n<div class=\"cards\">\n");
    let _ = writeln!(
        html,
        "<div class=\"card total\" data-status=\"total\"><b>{total}</b>people</div>"
    );
    for status in &order {
        let n = counts.get(status).copied().unwrap_or(0);
        let _ = writeln!(
            html,
            "<div class=\"card {s}\" data-status=\"{s}\"><b>{n}</b>{label}</div>",
            s = text(status),
            label = text(&status.replace('_', " "))
        );
    }
    html.push_str("</div>\n");
    if total > 0 {
        html.push_str("<div class=\"stack\" aria-hidden=\"true\">");
        for status in &order {
            let n = counts.get(status).copied().unwrap_or(0);
            if n > 0 {
                let _ = write!(
                    html,
                    "<span class=\"s-{s}\" style=\"width:{:.3}%\" title=\"{s}: {n}\"></span>",
                    100.0 * n as f64 / total as f64,
                    s = text(status)
                );
            }
        }
        html.push_str("</div>\n");
    } else {
        html.push_str("<p class=\"muted\">No person matches.</p>\n");
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for person in page.people {
        if let Some(state) = &person.membership_state {
            *states.entry(state.as_str()).or_default() += 1;
        }
    }
    if !states.is_empty() {
        let mut parts = Vec::new();
        for state in MembershipState::ALL {
            if let Some(n) = states.remove(state.as_str()) {
                parts.push(format!(
                    "{} {n}",
                    state.as_str().to_lowercase().replace('_', " ")
                ));
            }
        }
        parts.extend(states.iter().map(|(s, n)| format!("{} {n}", text(s))));
        let _ = writeln!(
            html,
            "<p class=\"muted\">Membership in Atlas: {}.</p>",
            parts.join(" &middot; ")
        );
    }
    html.push_str("</section>\n");
}

/// A rate-limit pause: from an answer 429 to the next request the run sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub start_ms: i64,
    pub end_ms: i64,
    /// How many answers 429 fell in it.
    pub answers: usize,
}

/// The pauses of one run, from its requests (sent order) and when it ended. A 429 holds up
/// every worker (see "How a run behaves" in README), so a pause lasts from the answer 429 to
/// the next request sent after it; 429s answered while already paused join that pause.
pub fn pauses(attempts: &[&TimelineAttempt], run_end_ms: i64) -> Vec<Pause> {
    let mut sent: Vec<i64> = attempts.iter().filter_map(|a| ms(&a.sent_at)).collect();
    sent.sort_unstable();
    let mut found: Vec<Pause> = attempts
        .iter()
        .filter(|a| a.outcome == "rate_limited")
        .filter_map(|a| {
            let start = ms(&a.finished_at)?;
            let next = sent.partition_point(|&t| t <= start);
            let end = sent.get(next).copied().unwrap_or(run_end_ms).max(start);
            Some(Pause {
                start_ms: start,
                end_ms: end,
                answers: 1,
            })
        })
        .collect();
    found.sort_by_key(|p| p.start_ms);
    let mut merged: Vec<Pause> = Vec::new();
    for pause in found {
        match merged.last_mut() {
            Some(last) if pause.start_ms <= last.end_ms => {
                last.end_ms = last.end_ms.max(pause.end_ms);
                last.answers += pause.answers;
            }
            _ => merged.push(pause),
        }
    }
    merged
}

/// The width of a timeline bar: the shortest of these that draws the span in at most 40 bars.
/// Heights are always invitations per minute, whatever the width.
pub fn bucket_ms(span_ms: i64) -> i64 {
    const WIDTHS_S: [i64; 16] = [
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        6 * 3600,
        24 * 3600,
        7 * 24 * 3600,
    ];
    WIDTHS_S
        .iter()
        .map(|s| s * 1000)
        .find(|w| span_ms < w * 40)
        .unwrap_or(7 * 24 * 3600 * 1000)
}

/// One bar of a run's chart.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bucket {
    invited: usize,
    already: usize,
}

/// Outcomes that end a person's invitation without a new one: drawn beside `invited`.
fn is_already(outcome: &str) -> bool {
    matches!(outcome, "already_invited" | "already_member")
}

/// Outcomes that are an error of that request (a retry follows, or the person failed).
fn is_error(outcome: &str) -> bool {
    matches!(outcome, "retry" | "unknown" | "refused" | "unauthorized")
}

fn timeline(html: &mut String, page: &Page<'_>) {
    html.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n");
    if page.runs.is_empty() {
        html.push_str("<p class=\"muted\">No run matches.</p>\n</section>\n");
        return;
    }
    let listed: HashSet<(&str, &str)> = page
        .people
        .iter()
        .map(|p| (p.org_id.as_str(), p.email_key.as_str()))
        .collect();
    html.push_str(
        "<div class=\"legend\"><span><i class=\"bar-invited\" style=\"background:var(--ok)\"></i>\
         invitations sent</span><span><i style=\"background:var(--already)\"></i>already invited \
         or member</span><span><i style=\"background:var(--pause);border:1px solid var(--wait)\">\
         </i>rate-limit pause (429 to the next request)</span><span><i style=\"background:\
         var(--fail)\"></i>error answer (retried, or the person failed)</span></div>\n",
    );
    if page.people_filtered {
        html.push_str(
            "<p class=\"muted\">Bars count the requests made for the people this report lists; \
             pauses are the whole run's.</p>\n",
        );
    }
    overview(html, page.runs);
    for run in page.runs {
        let attempts: Vec<&TimelineAttempt> = page
            .attempts
            .iter()
            .filter(|a| a.run_id == run.id)
            .collect();
        run_block(html, run, &attempts, |a| {
            !page.people_filtered || listed.contains(&(a.org_id.as_str(), a.email_key.as_str()))
        });
    }
    html.push_str("</section>\n");
}

/// Start and end of a run in milliseconds: `finished_at`, else its last answer (a run that
/// died or is still running), else its start.
fn run_span(run: &RunReport, attempts: &[&TimelineAttempt]) -> Option<(i64, i64)> {
    let start = ms(&run.started_at)?;
    let last_answer = attempts.iter().filter_map(|a| ms(&a.finished_at)).max();
    let end = run
        .finished_at
        .as_deref()
        .and_then(ms)
        .into_iter()
        .chain(last_answer)
        .max()
        .unwrap_or(start);
    Some((start, end.max(start)))
}

/// All runs on one time axis, when there is more than one: when each ran, relative to the
/// others.
fn overview(html: &mut String, runs: &[RunReport]) {
    if runs.len() < 2 {
        return;
    }
    let spans: Vec<(i64, (i64, i64))> = runs
        .iter()
        .filter_map(|r| Some((r.id, run_span(r, &[])?)))
        .collect();
    let (Some(first), Some(last)) = (
        spans.iter().map(|(_, (s, _))| *s).min(),
        spans.iter().map(|(_, (_, e))| *e).max(),
    ) else {
        return;
    };
    let domain = (last - first).max(1) as f64;
    let (left, width) = (40.0, 900.0);
    let x = |t: i64| left + width * (t - first) as f64 / domain;
    let _ = write!(
        html,
        "<svg viewBox=\"0 0 960 52\" role=\"img\" aria-label=\"runs on a time axis\">\
         <line class=\"axis\" x1=\"{left}\" y1=\"24\" x2=\"{:.1}\" y2=\"24\"/>",
        left + width
    );
    for (id, (start, end)) in &spans {
        let x0 = x(*start);
        let w = (x(*end) - x0).max(3.0);
        let _ = write!(
            html,
            "<rect class=\"span\" x=\"{x0:.1}\" y=\"16\" width=\"{w:.1}\" height=\"16\" rx=\"2\">\
             <title>run {id}: {} to {}</title></rect>\
             <text x=\"{x0:.1}\" y=\"12\">{id}</text>",
            clock(*start, true),
            clock(*end, true)
        );
    }
    let _ = writeln!(
        html,
        "<text x=\"{left}\" y=\"46\">{}</text><text x=\"{:.1}\" y=\"46\" text-anchor=\"end\">{}\
         </text></svg>",
        clock(first, true),
        left + width,
        clock(last, true)
    );
}

fn run_block(
    html: &mut String,
    run: &RunReport,
    attempts: &[&TimelineAttempt],
    counted: impl Fn(&TimelineAttempt) -> bool,
) {
    let by = match (&run.os_user, &run.hostname) {
        (Some(u), Some(h)) => format!(" by {}@{}", text(u), text(h)),
        (Some(one), None) | (None, Some(one)) => format!(" by {}", text(one)),
        (None, None) => String::new(),
    };
    let took = run.duration_secs.map_or_else(
        || "did not finish".to_owned(),
        |s| {
            format!(
                "took {}",
                crate::util::human_duration(Duration::from_secs_f64(s.max(0.0)))
            )
        },
    );
    let exit = run
        .exit_code
        .map_or_else(|| "no exit code".to_owned(), |c| format!("exit {c}"));
    let _ = writeln!(
        html,
        "<div class=\"run\" id=\"run-{id}\">\n<h3>Run {id} &middot; {} &middot; {took} &middot; \
         {exit}</h3>\n<p class=\"muted\">{}{by} &middot; organization {}<br>rows {}: invited \
         {}, already invited {}, already member {}, failed {}, invalid {}, skipped {}, \
         unfinished {} &middot; {} requests</p>",
        when(&run.started_at),
        text(&run.csv_path),
        text(&run.org_id),
        run.rows_total,
        run.invited,
        run.already_invited,
        run.already_member,
        run.failed,
        run.rows_invalid,
        run.skipped,
        run.unfinished,
        run.requests,
        id = run.id,
    );
    let Some((start, end)) = run_span(run, attempts) else {
        html.push_str("<p class=\"muted\">Its start time is unreadable.</p>\n</div>\n");
        return;
    };
    if attempts.is_empty() {
        html.push_str("<p class=\"muted\">No request sent.</p>\n</div>\n");
        return;
    }
    let pauses = pauses(attempts, end);
    chart(html, start, end, attempts, &pauses, &counted);
    let paused: i64 = pauses.iter().map(|p| p.end_ms - p.start_ms).sum();
    let answers: usize = pauses.iter().map(|p| p.answers).sum();
    if pauses.is_empty() {
        html.push_str("<p class=\"muted\">No rate-limit pause.</p>\n");
    } else {
        let _ = writeln!(
            html,
            "<p class=\"muted\">{} rate-limit pause{} after {answers} answer{} 429, {} in all{}.\
             </p>",
            pauses.len(),
            plural(pauses.len()),
            plural(answers),
            crate::util::human_duration(Duration::from_millis(paused.max(0) as u64)),
            pauses
                .iter()
                .map(|p| format!(
                    "{} ({})",
                    clock(p.start_ms, false),
                    crate::util::human_duration(Duration::from_millis(
                        (p.end_ms - p.start_ms).max(0) as u64
                    ))
                ))
                .take(12)
                .fold(String::new(), |acc, p| if acc.is_empty() {
                    format!(": {p}")
                } else {
                    format!("{acc}, {p}")
                })
                + &if pauses.len() > 12 {
                    format!(" and {} more", pauses.len() - 12)
                } else {
                    String::new()
                }
        );
    }
    html.push_str("</div>\n");
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One run's chart: a bar per time slice (invitations per minute), pauses as bands, 429s and
/// error answers as ticks.
fn chart(
    html: &mut String,
    start: i64,
    end: i64,
    attempts: &[&TimelineAttempt],
    pauses: &[Pause],
    counted: &impl Fn(&TimelineAttempt) -> bool,
) {
    let width_ms = bucket_ms(end - start);
    let n = ((end - start + width_ms - 1) / width_ms).max(1) as usize;
    let mut buckets = vec![Bucket::default(); n];
    for a in attempts.iter().filter(|a| counted(a)) {
        let Some(t) = ms(&a.finished_at) else {
            continue;
        };
        let i = (((t - start).max(0)) / width_ms) as usize;
        let Some(bucket) = buckets.get_mut(i.min(n - 1)) else {
            continue;
        };
        if a.outcome == "invited" {
            bucket.invited += 1;
        } else if is_already(&a.outcome) {
            bucket.already += 1;
        }
    }
    let per_minute = 60_000.0 / width_ms as f64;
    let peak = buckets
        .iter()
        .map(|b| (b.invited + b.already) as f64 * per_minute)
        .fold(0.0, f64::max);
    let top = nice_ceiling(peak);
    let domain_end = start + width_ms * n as i64;
    let (left, right, plot_top, plot_bottom) = (64.0, 950.0, 18.0, 118.0);
    let x = |t: i64| left + (right - left) * (t - start) as f64 / (domain_end - start) as f64;
    let y = |v: f64| plot_bottom - (plot_bottom - plot_top) * v / top;
    let _ = write!(
        html,
        "<svg viewBox=\"0 0 960 150\" role=\"img\" aria-label=\"invitations per minute, {} per \
         bar\">",
        crate::util::human_duration(Duration::from_millis(width_ms as u64))
    );
    for v in [0.0, top / 2.0, top] {
        let yy = y(v);
        let _ = write!(
            html,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{right}\" y2=\"{yy:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            yy + 4.0,
            if v == 0.0 {
                "0".to_owned()
            } else {
                format!("{}/min", axis_number(v))
            },
        );
    }
    for pause in pauses {
        let x0 = x(pause.start_ms);
        let w = (x(pause.end_ms) - x0).max(2.0);
        let _ = write!(
            html,
            "<rect class=\"pause\" x=\"{x0:.1}\" y=\"{plot_top}\" width=\"{w:.1}\" height=\"{:.1}\">\
             <title>paused {} from {} after {} answer{} 429</title></rect>",
            plot_bottom - plot_top,
            crate::util::human_duration(Duration::from_millis(
                (pause.end_ms - pause.start_ms).max(0) as u64
            )),
            clock(pause.start_ms, false),
            pause.answers,
            plural(pause.answers)
        );
    }
    for (i, bucket) in buckets.iter().enumerate() {
        let from = start + width_ms * i as i64;
        let x0 = x(from) + 0.5;
        let w = (x(from + width_ms) - x(from) - 1.0).max(1.0);
        let invited = bucket.invited as f64 * per_minute;
        let already = bucket.already as f64 * per_minute;
        let tip = format!(
            "{} to {}: {} invited, {} already invited or member ({}/min)",
            clock(from, false),
            clock(from + width_ms, false),
            bucket.invited,
            bucket.already,
            fmt_number(invited + already)
        );
        if invited > 0.0 {
            let _ = write!(
                html,
                "<rect class=\"bar-invited\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" \
                 height=\"{:.1}\"><title>{tip}</title></rect>",
                y(invited),
                plot_bottom - y(invited)
            );
        }
        if already > 0.0 {
            let _ = write!(
                html,
                "<rect class=\"bar-already\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" \
                 height=\"{:.1}\"><title>{tip}</title></rect>",
                y(invited + already),
                y(invited) - y(invited + already)
            );
        }
    }
    for a in attempts {
        let Some(t) = ms(&a.finished_at) else {
            continue;
        };
        let xx = x(t);
        if a.outcome == "rate_limited" {
            let _ = write!(
                html,
                "<line class=\"tick-429\" x1=\"{xx:.1}\" y1=\"{plot_top}\" x2=\"{xx:.1}\" \
                 y2=\"{:.1}\"/>",
                plot_top + 8.0
            );
        } else if is_error(&a.outcome) && counted(a) {
            let _ = write!(
                html,
                "<line class=\"tick-err\" x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\">\
                 <title>{} {}: {}</title></line>",
                plot_bottom + 2.0,
                plot_bottom + 9.0,
                clock(t, false),
                a.http_status
                    .map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}")),
                text(&a.outcome)
            );
        }
    }
    let _ = write!(
        html,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{plot_bottom}\" x2=\"{right}\" \
         y2=\"{plot_bottom}\"/><line class=\"end\" x1=\"{xe:.1}\" y1=\"{plot_top}\" \
         x2=\"{xe:.1}\" y2=\"{plot_bottom}\"><title>run ended {}</title></line>",
        clock(end, false),
        xe = x(end)
    );
    let long = domain_end - start > 24 * 3600 * 1000;
    for k in 0..=4 {
        let t = start + (domain_end - start) * k / 4;
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            html,
            "<text x=\"{:.1}\" y=\"142\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            clock(t, long)
        );
    }
    let _ = writeln!(
        html,
        "<text x=\"{right}\" y=\"{:.1}\" text-anchor=\"end\">{} per bar, UTC</text></svg>",
        plot_top - 6.0,
        crate::util::human_duration(Duration::from_millis(width_ms as u64))
    );
}

/// A round number at or above `v` (1, 2 or 5 times a power of ten) for the top of an axis.
pub fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if v <= step * magnitude * (1.0 + 1e-9) {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// An axis label short enough for the margin: `30k` rather than `30000`.
fn axis_number(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{}k", fmt_number(v / 1000.0))
    } else {
        fmt_number(v)
    }
}

fn fmt_number(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0}", v)
    } else {
        format!("{v:.1}")
    }
}

fn pending_by_expiry(html: &mut String, page: &Page<'_>) {
    html.push_str("<section id=\"pending\">\n<h2>Pending invitations by expiry</h2>\n");
    let Some(at) = &page.last_reconcile else {
        html.push_str(
            "<p class=\"muted\">Unknown: no reconcile recorded yet. Run <code>atlas-invite \
             reconcile --org ORG_ID</code> to learn which invitations are pending and when they \
             expire.</p>\n</section>\n",
        );
        return;
    };
    let pending: Vec<&InviteReport> = page
        .people
        .iter()
        .filter(|p| p.membership_state.as_deref() == Some(MembershipState::Pending.as_str()))
        .collect();
    let _ = writeln!(
        html,
        "<p class=\"muted\">As Atlas listed them at the last reconcile, {}: {} pending.</p>",
        when(at),
        pending.len()
    );
    if pending.is_empty() {
        html.push_str("</section>\n");
        return;
    }
    let mut by_day: BTreeMap<String, Vec<&InviteReport>> = BTreeMap::new();
    for person in &pending {
        let day = person
            .expires_at
            .as_deref()
            .and_then(|e| e.get(..10))
            .unwrap_or("unknown")
            .to_owned();
        by_day.entry(day).or_default().push(person);
    }
    let most = by_day.values().map(Vec::len).max().unwrap_or(1).max(1);
    html.push_str(
        "<table><thead><tr><th>Expires (UTC)</th><th>In</th><th class=\"n\">Pending</th>\
         <th></th><th>People</th></tr></thead><tbody>\n",
    );
    for (day, people) in &by_day {
        let left = days_left(day, page.now);
        let emails: Vec<String> = people.iter().map(|p| text(&p.email)).collect();
        let shown = if emails.len() > 8 {
            format!(
                "{}, <details><summary>and {} more</summary>{}</details>",
                emails[..8].join(", "),
                emails.len() - 8,
                emails[8..].join(", ")
            )
        } else {
            emails.join(", ")
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"status\">{}</td><td class=\"status\">{left}</td><td class=\"n\">{}\
             </td><td style=\"width:22%\"><span class=\"meter\" style=\"width:{:.1}%\"></span>\
             </td><td>{shown}</td></tr>",
            text(day),
            people.len(),
            100.0 * people.len() as f64 / most as f64
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

/// How far `day` (`YYYY-MM-DD`, the end of it being when its invitations have expired) is
/// from `now`, in words.
fn days_left(day: &str, now: SystemTime) -> String {
    let Ok(date) = humantime::parse_rfc3339(&format!("{day}T00:00:00Z")) else {
        return String::new();
    };
    let day_secs = 86_400;
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let days = secs(date).div_euclid(day_secs) - secs(now).div_euclid(day_secs);
    match days {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        d if d > 1 => format!("{d} days"),
        -1 => "yesterday".to_owned(),
        d => format!("{} days ago", -d),
    }
}

fn failures(html: &mut String, page: &Page<'_>) {
    let failed: Vec<&InviteReport> = page
        .people
        .iter()
        .filter(|p| matches!(p.status.as_str(), "failed" | "invalid"))
        .collect();
    html.push_str("<section id=\"failures\">\n<h2>Failures</h2>\n");
    if failed.is_empty() {
        html.push_str("<p class=\"muted\">None: nobody listed failed or is invalid.</p>\n");
        html.push_str("</section>\n");
        return;
    }
    let mut reasons: BTreeMap<(String, String), usize> = BTreeMap::new();
    for person in &failed {
        *reasons
            .entry((person.status.clone(), reason_code(person)))
            .or_default() += 1;
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    html.push_str(
        "<table><thead><tr><th class=\"status\">Status</th><th>Reason</th><th class=\"n\">People</th></tr></thead>\
         <tbody>\n",
    );
    for ((status, reason), n) in &reasons {
        let _ = writeln!(
            html,
            "<tr><td class=\"status\">{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
            text(status),
            text(reason)
        );
    }
    html.push_str("</tbody></table>\n");
    html.push_str(
        "<table><thead><tr><th>Email</th><th class=\"status\">Status</th><th class=\"n\">HTTP</th><th>Reason</th>\
         <th class=\"n\">Tries</th><th class=\"n\">Run</th><th class=\"n\">CSV line</th>\
         </tr></thead><tbody>\n",
    );
    for person in &failed {
        let detail = match (&person.last_error_code, &person.last_error_detail) {
            // The pipeline's details often name the code already ("HTTP 404 TEAM_NOT_FOUND: …").
            (Some(code), Some(detail)) if detail.contains(code.as_str()) => text(detail),
            (Some(code), Some(detail)) => format!("<b>{}</b> {}", text(code), text(detail)),
            (Some(one), None) | (None, Some(one)) => text(one),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"email\">{}</td><td class=\"status\">{}</td><td class=\"n\">{}</td><td>{detail}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            text(&person.email),
            text(&person.status),
            opt(&person.last_http_status),
            person.attempts,
            opt(&person.last_run_id),
            opt(&person.csv_line),
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

/// The reason people are grouped by: Atlas's error code, else the detail.
fn reason_code(person: &InviteReport) -> String {
    person
        .last_error_code
        .clone()
        .or_else(|| person.last_error_detail.clone())
        .unwrap_or_else(|| "no reason recorded".to_owned())
}

fn everybody(html: &mut String, page: &Page<'_>) {
    if page.people.is_empty() {
        return;
    }
    let _ = writeln!(
        html,
        "<section id=\"people\">\n<h2>Everybody listed</h2>\n<details><summary>{} {}</summary>",
        page.people.len(),
        if page.people.len() == 1 {
            "person"
        } else {
            "people"
        }
    );
    html.push_str(
        "<table><thead><tr><th>Email</th><th class=\"status\">Status</th><th>Roles</th><th>Membership</th>\
         <th class=\"n\">Tries</th><th>Invitation</th><th>Updated (UTC)</th></tr></thead>\
         <tbody>\n",
    );
    for p in page.people {
        let membership = match (&p.membership_state, &p.expires_at) {
            (Some(state), Some(expires)) if state == "PENDING" => {
                format!(
                    "PENDING until {}",
                    text(expires.get(..10).unwrap_or(expires))
                )
            }
            (Some(state), _) => text(state),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"email\">{}</td><td class=\"status\">{}</td><td>{}</td><td>{membership}</td>\
             <td class=\"n\">{}</td><td>{}</td><td class=\"status\">{}</td></tr>",
            text(&p.email),
            text(&p.status),
            text(&p.roles.join(", ")),
            p.attempts,
            text(&opt(&p.invitation_id)),
            when(&p.updated_at),
        );
    }
    html.push_str("</tbody></table>\n</details>\n</section>\n");
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// A journal timestamp in milliseconds since the epoch.
fn ms(timestamp: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(timestamp).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// A journal timestamp for people: `2026-11-29 01:26:34 UTC`, escaped.
fn when(timestamp: &str) -> String {
    match timestamp.get(..19) {
        Some(head) if timestamp.len() >= 20 => format!("{} UTC", text(&head.replace('T', " "))),
        _ => text(timestamp),
    }
}

/// `HH:MM:SS` (UTC) of a time in milliseconds; with the date when `with_date`.
fn clock(t_ms: i64, with_date: bool) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(t_ms.max(0) as u64);
    let full = humantime::format_rfc3339_seconds(t).to_string();
    if with_date {
        full.get(..16).unwrap_or(&full).replace('T', " ")
    } else {
        full.get(11..19).unwrap_or(&full).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(
        run_id: i64,
        email: &str,
        sent: &str,
        finished: &str,
        outcome: &str,
    ) -> TimelineAttempt {
        TimelineAttempt {
            run_id,
            org_id: "o".into(),
            email_key: email.into(),
            kind: "invite".into(),
            sent_at: sent.into(),
            finished_at: finished.into(),
            latency_ms: 10.0,
            http_status: Some(200),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn escaping_covers_markup_quotes_and_ampersands() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert!(matches!(escape("ann@example.com"), Cow::Borrowed(_)));
        assert_eq!(
            escape("&amp;"),
            "&amp;amp;",
            "escaping is not idempotent, on purpose"
        );
        // Hidden characters are shown, control characters become spaces, then escaped.
        assert_eq!(text("a\u{200B}<b>\n"), "a&lt;U+200B&gt;&lt;b&gt; ");
    }

    #[test]
    fn pauses_run_from_a_429_to_the_next_request_and_merge() {
        let a = [
            attempt(
                1,
                "a",
                "2026-01-01T00:00:00.000Z",
                "2026-01-01T00:00:00.100Z",
                "invited",
            ),
            attempt(
                1,
                "b",
                "2026-01-01T00:00:00.050Z",
                "2026-01-01T00:00:00.150Z",
                "rate_limited",
            ),
            attempt(
                1,
                "c",
                "2026-01-01T00:00:00.060Z",
                "2026-01-01T00:00:00.160Z",
                "rate_limited",
            ),
            attempt(
                1,
                "b",
                "2026-01-01T00:00:01.150Z",
                "2026-01-01T00:00:01.250Z",
                "invited",
            ),
            attempt(
                1,
                "c",
                "2026-01-01T00:00:01.200Z",
                "2026-01-01T00:00:01.300Z",
                "invited",
            ),
            attempt(
                1,
                "d",
                "2026-01-01T00:00:02.000Z",
                "2026-01-01T00:00:02.100Z",
                "rate_limited",
            ),
        ];
        let refs: Vec<&TimelineAttempt> = a.iter().collect();
        let end = ms("2026-01-01T00:00:05.000Z").unwrap();
        let found = pauses(&refs, end);
        let base = ms("2026-01-01T00:00:00.000Z").unwrap();
        assert_eq!(
            found,
            vec![
                Pause {
                    start_ms: base + 150,
                    end_ms: base + 1150,
                    answers: 2
                },
                // The last 429 had no request after it: the pause lasts to the run's end.
                Pause {
                    start_ms: base + 2100,
                    end_ms: end,
                    answers: 1
                },
            ]
        );
    }

    #[test]
    fn bars_stay_at_most_forty_and_axes_round_up() {
        assert_eq!(bucket_ms(0), 1_000);
        assert_eq!(bucket_ms(2_400), 1_000);
        assert_eq!(bucket_ms(39_999), 1_000);
        assert_eq!(bucket_ms(40_000), 2_000);
        assert_eq!(bucket_ms(180_000), 5_000);
        assert_eq!(bucket_ms(3_600_000), 120_000);
        assert_eq!(bucket_ms(i64::MAX / 2), 7 * 24 * 3600 * 1000);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(108.0), 200.0);
        assert_eq!(nice_ceiling(50.0), 50.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(axis_number(30_000.0), "30k");
        assert_eq!(axis_number(2_500.0), "2500");
        assert_eq!(axis_number(7.5), "7.5");
    }

    #[test]
    fn expiry_days_are_counted_in_utc_days() {
        let now = humantime::parse_rfc3339("2026-12-01T23:59:00Z").unwrap();
        assert_eq!(days_left("2026-12-01", now), "today");
        assert_eq!(days_left("2026-12-02", now), "tomorrow");
        assert_eq!(days_left("2026-12-31", now), "30 days");
        assert_eq!(days_left("2026-11-29", now), "2 days ago");
        assert_eq!(days_left("unknown", now), "");
    }
}
