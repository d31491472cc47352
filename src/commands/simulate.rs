//! `atlas-invite simulate`: serve the built-in simulator until killed; and the simulator that
//! `run --simulate` starts in-process.
//!
//! The simulator is the `atlas-sim` crate, behind the default cargo feature `simulator`. A
//! build without it (`--no-default-features`) has neither its HTTP server stack nor its test
//! hooks; both commands then exit 2 saying so, before anything is written.

use crate::cli::SimulateArgs;
use crate::exit::Failure;

/// Why `simulate` and `run --simulate` cannot work in a build without the simulator.
#[cfg(not(feature = "simulator"))]
const WITHOUT_SIMULATOR: &str = "this atlas-invite was built without the simulator (cargo feature `simulator`): rebuild it with default features, or serve one with the `atlas-sim` binary and point --base-url at it";

#[cfg(feature = "simulator")]
pub(super) async fn simulate(args: SimulateArgs) -> Result<i32, Failure> {
    use crate::exit::SUCCESS;
    use crate::simulator::{RateLimit, SimConfig, serve_until_killed};

    let config = SimConfig {
        org_id: args.org,
        token: args.token,
        fail_rate: args.fail_rate,
        rate_limit: args.rate_limit.map(|rate| {
            let per_second = rate.as_per_second();
            RateLimit {
                per_second,
                burst: args
                    .rate_limit_capacity
                    .unwrap_or((per_second.ceil() as u32).max(1)),
            }
        }),
        rate_limit_legacy: args.rate_limit_legacy,
        latency: args.latency,
        seed: args.seed,
        retry_after_header: !args.no_retry_after,
        drop_rate: args.drop_rate,
        hang_rate: args.hang_rate,
        html_503_rate: args.html_503_rate,
        duplicate_invites: args.duplicate_invites,
        existing_members: args.members,
        service_accounts: args.service_accounts,
        token_ttl: args.token_ttl,
        api_keys: args.api_keys,
        teams: args.teams,
        projects: args.projects,
        ..SimConfig::default()
    };
    serve_until_killed(config, args.port)
        .await
        .map_err(Failure::usage)?;
    Ok(SUCCESS)
}

#[cfg(not(feature = "simulator"))]
pub(super) async fn simulate(_args: SimulateArgs) -> Result<i32, Failure> {
    Err(Failure::usage(anyhow::anyhow!(WITHOUT_SIMULATOR)))
}

/// The simulator `run --simulate` talks to, kept alive for the whole run.
#[cfg(feature = "simulator")]
pub(super) type DemoSimulator = crate::simulator::SimulatorHandle;

/// Never built: without the simulator, [`start_demo`] always fails.
#[cfg(not(feature = "simulator"))]
pub(super) enum DemoSimulator {}

#[cfg(not(feature = "simulator"))]
impl DemoSimulator {
    pub(super) fn base_url(&self) -> String {
        match *self {}
    }
}

/// Starts the demonstration simulator of `run --simulate`: the only organization is `org_id`
/// and the only bearer token `token`.
#[cfg(feature = "simulator")]
pub(super) async fn start_demo(org_id: &str, token: &str) -> Result<DemoSimulator, Failure> {
    use anyhow::Context;

    use crate::simulator::{SimConfig, Simulator};

    Simulator::start(SimConfig {
        org_id: Some(org_id.to_owned()),
        token: Some(token.to_owned()),
        ..SimConfig::demo()
    })
    .await
    .context("failed to start the built-in simulator")
    .map_err(Failure::usage)
}

#[cfg(not(feature = "simulator"))]
pub(super) async fn start_demo(_org_id: &str, _token: &str) -> Result<DemoSimulator, Failure> {
    Err(Failure::usage(anyhow::anyhow!(WITHOUT_SIMULATOR)))
}
