//! `atlas-invite history <EMAIL>`: every request made for one person, across runs, with the run
//! that made it; the table form opens with the person's current state.

use super::report::{open_journal, print};
use crate::cli::HistoryArgs;
use crate::exit::{Failure, SUCCESS};

/// The journal has no record of the address (`history`'s documented exit code for it).
const NOT_FOUND: i32 = crate::exit::INCOMPLETE;
use crate::journal::InviteFilter;
use crate::report::ReportFormat;
use crate::terminal::safe;

pub(super) fn history(args: &HistoryArgs) -> Result<i32, Failure> {
    let path = super::journal_path::for_reading(&args.journal, args.org.as_deref())?;
    let journal = open_journal(&path)?;
    let key = crate::vocab::EmailKey::of(&args.email);
    let attempts = journal
        .attempt_history(&key, args.org.as_deref())
        .map_err(Failure::usage)?;
    let filter = InviteFilter {
        org_id: args.org.clone(),
        email: Some(key.to_string()),
        ..InviteFilter::default()
    };
    let people = journal.invite_report(&filter).map_err(Failure::usage)?;
    let people: Vec<_> = people.into_iter().filter(|p| p.email_key == key).collect();
    if people.is_empty() && attempts.is_empty() {
        // Like grep: exit 1 says "no such person", so that a script can tell a typo from an
        // empty history; the JSON forms still print their empty list.
        eprintln!(
            "unknown address: no record of {} in journal {}{}",
            safe(args.email.trim()),
            safe(&journal.path().display().to_string()),
            args.org
                .as_deref()
                .map(|org| format!(" for org {org}"))
                .unwrap_or_default()
        );
        if args.format != ReportFormat::Table {
            print(&attempts, args.format)?;
        }
        return Ok(NOT_FOUND);
    }
    if args.format == ReportFormat::Table {
        for person in &people {
            let mut line = format!(
                "{} in org {}: {}",
                person.email, person.org_id, person.status
            );
            if let Some(id) = &person.invitation_id {
                line.push_str(&format!(", invitation {id}"));
            }
            if let (Some(state), Some(at)) =
                (&person.membership_state, &person.membership_observed_at)
            {
                line.push_str(&format!(", {state} as of {at}"));
            }
            if let Some(detail) = &person.last_error_detail {
                line.push_str(&format!(" ({detail})"));
            }
            crate::outln!("{}", safe(&line));
        }
        let changes = journal
            .change_history(&key, args.org.as_deref())
            .map_err(Failure::usage)?;
        for change in &changes {
            crate::outln!("{}", safe(&change_line(change)));
        }
        if attempts.is_empty() {
            eprintln!("no request was ever sent for {}", safe(args.email.trim()));
            return Ok(SUCCESS);
        }
        crate::outln!();
    }
    print(&attempts, args.format)?;
    Ok(SUCCESS)
}

/// One change of the person, as `history` lists it: `run 3 update done: roles ORG_OWNER →
/// ORG_MEMBER (the file asks for other grants)`.
fn change_line(change: &crate::journal::ChangeReport) -> String {
    let roles = |json: &str| -> String {
        serde_json::from_str::<Vec<String>>(json)
            .map(|roles| roles.join(", "))
            .unwrap_or_else(|_| json.to_owned())
    };
    let what = match &change.new_roles {
        Some(new) => format!("roles {} → {}", roles(&change.old_roles), roles(new)),
        None => format!("roles were {}", roles(&change.old_roles)),
    };
    let mut line = format!(
        "  run {} {} {}: {what} ({})",
        change.run_id, change.operation, change.state, change.reason
    );
    if let Some(at) = change.finished_at.as_ref().or(Some(&change.planned_at)) {
        line.push_str(&format!(" at {at}"));
    }
    if let Some(detail) = &change.detail {
        line.push_str(&format!("; {detail}"));
    }
    line
}
