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
    use crate::simulator::serve_until_killed;

    // The flags are the `atlas-sim` binary's own, and so is their meaning.
    let port = args.serve.port;
    serve_until_killed(args.serve.config(), port)
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
