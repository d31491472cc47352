//! The one decision of what a run does with a person, given what the journal knows of them and
//! the operator's options. `run` (through the journal's planner) and `--dry-run` both ask it, so
//! what a dry run shows is what the run does.
//!
//! It is a pure function of plain values, tested as a table below.

use crate::roster::Invitee;
use crate::vocab::InviteStatus;

/// Choices of the operator that change what a run plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan again people who are done but whose invitation expired or was declined
    /// (`run --reinvite-expired`).
    pub reinvite_expired: bool,
}

/// One valid row the run must act on.
#[derive(Debug, Clone)]
pub struct PlannedRow {
    pub invitee: Invitee,
    /// An earlier run left this person `in_flight`: the outcome of its last request is unknown,
    /// so the pipeline looks them up before sending anything.
    pub unresolved: bool,
}

/// What the journal knows of a person before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub status: InviteStatus,
    /// The last `reconcile` saw the invitation expired or declined.
    pub lapsed: bool,
}

/// What a run does with a valid row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the invitation: never sent, sent and known not created, or refused before.
    Send,
    /// An earlier run left the person `in_flight`: look them up once that run's requests have
    /// settled, and send only if Atlas has no invitation.
    Resolve,
    /// Done, but the invitation lapsed and `--reinvite-expired` was given: send a new one.
    Reinvite,
    /// Done: nothing to send.
    Skip { status: InviteStatus, lapsed: bool },
}

impl Action {
    /// Whether the run sends anything for the person.
    pub fn sends(self) -> bool {
        !matches!(self, Action::Skip { .. })
    }

    /// How `--dry-run` names the action.
    pub fn label(self) -> String {
        match self {
            Action::Send => "send".into(),
            Action::Resolve => "check, then send".into(),
            Action::Reinvite => "send (lapsed)".into(),
            Action::Skip { status, .. } => format!("skip ({status})"),
        }
    }
}

/// What to do with a valid row whose person the journal knows as `known` (`None`: unknown).
pub fn decide(known: Option<Known>, options: PlanOptions) -> Action {
    match known {
        Some(Known { status, lapsed }) if status.is_done() => {
            if lapsed && options.reinvite_expired {
                Action::Reinvite
            } else {
                Action::Skip { status, lapsed }
            }
        }
        Some(Known {
            status: InviteStatus::InFlight,
            ..
        }) => Action::Resolve,
        _ => Action::Send,
    }
}

/// Whether an invalid row may replace the journal's record of its person. It may not when the
/// person is done or in flight (a typo in a later file must not hide what Atlas has), nor when
/// this very run planned the person from an earlier, valid row of the same address: that row's
/// record is what will be sent.
pub fn invalid_row_replaces(known: Option<InviteStatus>, planned_by_this_run: bool) -> bool {
    match known {
        Some(status) if status.is_done() || status == InviteStatus::InFlight => false,
        Some(InviteStatus::Pending) => !planned_by_this_run,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InviteStatus::*;

    const PLAIN: PlanOptions = PlanOptions {
        reinvite_expired: false,
    };
    const REINVITE: PlanOptions = PlanOptions {
        reinvite_expired: true,
    };

    fn known(status: InviteStatus, lapsed: bool) -> Option<Known> {
        Some(Known { status, lapsed })
    }

    #[test]
    fn decisions_for_every_status_and_option() {
        let skip = |status, lapsed| Action::Skip { status, lapsed };
        let table = [
            (None, PLAIN, Action::Send),
            (None, REINVITE, Action::Send),
            (known(Pending, false), PLAIN, Action::Send),
            (known(Failed, false), PLAIN, Action::Send),
            (known(Invalid, false), PLAIN, Action::Send),
            (known(InFlight, false), PLAIN, Action::Resolve),
            (known(InFlight, false), REINVITE, Action::Resolve),
            (known(Invited, false), PLAIN, skip(Invited, false)),
            (known(Invited, false), REINVITE, skip(Invited, false)),
            (
                known(AlreadyInvited, false),
                PLAIN,
                skip(AlreadyInvited, false),
            ),
            (
                known(AlreadyMember, false),
                PLAIN,
                skip(AlreadyMember, false),
            ),
            (known(Invited, true), PLAIN, skip(Invited, true)),
            (known(Invited, true), REINVITE, Action::Reinvite),
            (known(AlreadyInvited, true), REINVITE, Action::Reinvite),
        ];
        for (known, options, expected) in table {
            assert_eq!(decide(known, options), expected, "{known:?} {options:?}");
        }
    }

    #[test]
    fn labels_are_what_dry_run_prints() {
        assert_eq!(Action::Send.label(), "send");
        assert_eq!(Action::Resolve.label(), "check, then send");
        assert_eq!(Action::Reinvite.label(), "send (lapsed)");
        assert_eq!(
            Action::Skip {
                status: Invited,
                lapsed: false
            }
            .label(),
            "skip (invited)"
        );
        assert!(Action::Resolve.sends());
        assert!(
            !Action::Skip {
                status: Invited,
                lapsed: true
            }
            .sends()
        );
    }

    #[test]
    fn invalid_rows_never_replace_what_atlas_has_or_this_run_planned() {
        let table = [
            (None, false, true),
            (Some(Invalid), false, true),
            (Some(Failed), false, true),
            (Some(Pending), false, true),
            (Some(Pending), true, false),
            (Some(InFlight), false, false),
            (Some(Invited), false, false),
            (Some(AlreadyInvited), false, false),
            (Some(AlreadyMember), false, false),
        ];
        for (known, planned, expected) in table {
            assert_eq!(
                invalid_row_replaces(known, planned),
                expected,
                "{known:?} planned by this run: {planned}"
            );
        }
    }

    fn any_status() -> impl proptest::strategy::Strategy<Value = InviteStatus> {
        proptest::sample::select(InviteStatus::ALL.to_vec())
    }

    proptest::proptest! {
        /// The rules of `decide`, stated once more as properties: a done person is skipped
        /// unless their invitation lapsed and `--reinvite-expired` asks for a new one; a person
        /// in flight is resolved; everybody else is sent.
        #[test]
        fn decide_follows_its_rules(
            known in proptest::option::of((any_status(), proptest::bool::ANY)),
            reinvite_expired in proptest::bool::ANY,
        ) {
            let known = known.map(|(status, lapsed)| Known { status, lapsed });
            let action = decide(known, PlanOptions { reinvite_expired });
            let done = known.is_some_and(|k| k.status.is_done());
            let lapsed = known.is_some_and(|k| k.lapsed);
            proptest::prop_assert_eq!(!action.sends(), done && !(lapsed && reinvite_expired));
            proptest::prop_assert_eq!(
                action == Action::Resolve,
                known.is_some_and(|k| k.status == InviteStatus::InFlight)
            );
            proptest::prop_assert_eq!(action == Action::Reinvite, done && lapsed && reinvite_expired);
        }
    }
}
