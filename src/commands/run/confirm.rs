//! The review of a plan before it is committed: `--max-removals`, and the one question asked
//! before a run removes anybody or makes anybody an organization owner.
//!
//! On a terminal the run shows what it will do and asks once (`--yes` answers for scripts).
//! Without one, removals need `--yes` (exit 2 otherwise, nothing sent or written); new owners
//! are listed on stderr, so that a CI log shows them. Against the built-in simulator
//! (`--simulate`) nothing is asked: it is a rehearsal.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;

use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::journal::Plan;
use crate::plan::PlannedChange;
use crate::roster::Invitee;
use crate::terminal::safe;
use crate::vocab::Operation;

/// What in a plan needs a second look.
#[derive(Debug, Default)]
pub(super) struct Attention<'a> {
    pub removals: Vec<&'a PlannedChange>,
    /// People the run would make ORG_OWNER: invited so, or updated to it.
    pub new_owners: Vec<(&'a str, &'static str)>,
}

impl<'a> Attention<'a> {
    pub fn of(plan: &'a Plan) -> Attention<'a> {
        let invited = plan
            .rows
            .iter()
            .filter(|row| owner(&row.invitee))
            .map(|row| (row.invitee.email.as_str(), "invited as ORG_OWNER"));
        let updated = plan
            .changes
            .iter()
            .filter(|c| c.grants_owner())
            .map(|c| (c.email.as_str(), "updated to ORG_OWNER"));
        Attention {
            removals: plan
                .changes
                .iter()
                .filter(|c| c.operation == Operation::Remove)
                .collect(),
            new_owners: invited.chain(updated).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.removals.is_empty() && self.new_owners.is_empty()
    }
}

fn owner(invitee: &Invitee) -> bool {
    invitee.roles.iter().any(|r| r.as_str() == "ORG_OWNER")
}

/// Checks the plan of a run: `Err` (exit 2) past `--max-removals` or for removals without a
/// terminal nor `--yes`; `Ok(false)` when the person at the terminal says no.
pub(super) fn review(args: &RunArgs, org_id: &str, plan: &Plan) -> Result<bool, Failure> {
    let attention = Attention::of(plan);
    let removals = attention.removals.len();
    if removals > args.max_removals as usize {
        return Err(Failure::usage(anyhow!(
            "--prune would remove {removals} people from org {org_id}, more than --max-removals \
             {}: nothing was sent or written. Is this the whole file? `run --prune --dry-run` \
             lists them; pass --max-removals {removals} if they all left",
            args.max_removals
        )));
    }
    if attention.is_empty() {
        return Ok(true);
    }
    if !args.quiet || removals > 0 {
        describe(&attention, org_id);
    }
    // The simulator's organization is a rehearsal: nothing real to confirm.
    if args.yes || args.simulate {
        return Ok(true);
    }
    if !terminal() {
        if removals > 0 {
            return Err(Failure::usage(anyhow!(
                "removing people from the organization needs --yes when there is no terminal \
                 to ask: nothing was sent or written"
            )));
        }
        // New owners are listed above; nothing to ask a script.
        return Ok(true);
    }
    ask("go ahead?")
}

/// Lists the removals and the new owners on stderr.
fn describe(attention: &Attention<'_>, org_id: &str) {
    if !attention.removals.is_empty() {
        eprintln!(
            "this run removes {} people from org {org_id}:",
            attention.removals.len()
        );
        for change in &attention.removals {
            eprintln!(
                "  remove {} ({})",
                safe(&change.email),
                safe(&change.reason)
            );
        }
    }
    if !attention.new_owners.is_empty() {
        eprintln!(
            "this run makes {} people owners of org {org_id} (ORG_OWNER):",
            attention.new_owners.len()
        );
        for (email, how) in &attention.new_owners {
            eprintln!("  {} ({how})", safe(email));
        }
    }
}

/// Whether there is somebody to ask: standard input and error are both a terminal.
pub(in crate::commands) fn terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` once on the terminal; anything but yes is no.
pub(in crate::commands) fn ask(question: &str) -> Result<bool, Failure> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(anyhow!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
