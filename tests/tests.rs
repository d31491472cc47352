//! Integration tests: each drives the real `atlas-invite` binary against the built-in
//! simulator, started by the test itself on 127.0.0.1. Nothing here reaches the internet.

// Shared helpers: the simulator on its own runtime, scratch directories, the binary.
mod util;

// `run`: outcomes, retries, reruns, exit codes, credentials.
mod run;

// Exactly-once: lost answers, hangs, SIGKILL, SIGTERM, concurrent runs, 429 storms.
mod exactly_once;

// `validate` on messy files, and the `simulate` subcommand.
mod validate;

// Credentials (service accounts, API keys), envelope, deprecation, `doctor`, secrets.
mod auth;

// The contract: request bodies against the official OpenAPI schemas, the spec's examples.
mod contract;

// Audit and follow-up: report, runs, history, export, reconcile, --reinvite-expired.
mod report;

// `report --format html`: the page, its escaping and filters, and a real browser's rendering.
mod html;
// Rate limits as Atlas sets them: declared buckets, 429 details, the older 400, `--rate` bounds.
mod rate;

// HR exports as they come: encodings, column options, --where, rules, team and project names.
mod hr_exports;

// Robustness and hygiene: redirects, the journal never overwritten, terminal-safe output,
// ranges, closed pipes, concurrent journal creation, credentials in URLs, hidden characters.
mod hygiene;

// In a toolbox and in CI: completions, manual pages, clean JSON, --quiet errors, killed runs in
// `runs`, the OS user, and messages that say what happened.
mod toolbox;
// Atlas CLI profiles: --profile, the default profile, precedence, errors, secrets.
mod profile;

// Where the journal lives: one per organization in the state directory, overrides, the old
// file in the current directory, audit commands finding the only one or asking which.
mod journal_location;

// The interfaces scripts build on, snapshotted: --help texts and the JSON summary.
mod interface;
mod lifecycle;
