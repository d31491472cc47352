//! `atlas-invite simulate`: serve the built-in simulator until killed.

use crate::cli::SimulateArgs;
use crate::exit::{Failure, SUCCESS};
use crate::simulator::{RateLimit, SimConfig, serve_until_killed};

pub(super) async fn simulate(args: SimulateArgs) -> Result<i32, Failure> {
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
