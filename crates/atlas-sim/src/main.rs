//! The `atlas-sim` binary: serve the Atlas simulator on 127.0.0.1 until killed, as
//! `atlas-invite simulate` does, without the client around it (`atlas-sim [serve] [FLAGS]`);
//! or, on a simulator already running, play what an invited person does
//! (`atlas-sim accept|expire|decline --url URL EMAIL`), for rehearsals and scripts.
//!
//! Exit codes: 0 after Ctrl-C or SIGTERM, or once the person's invitation was closed as asked;
//! 1 when the person had no pending invitation; 2 on a usage error, when the simulator cannot
//! start (the port is taken, say), or when the running one cannot be reached.

use clap::Parser;

use atlas_sim::cli::{ServeArgs, SimCli, SimCommand};
use atlas_sim::control::{Sent, send};

fn main() {
    // clap exits with code 2 on a usage error.
    let cli = SimCli::parse();
    // The simulator serves many clients at once and gets every core.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = match cli.command {
        None => serve(&runtime, cli.serve),
        Some(SimCommand::Serve(args)) => serve(&runtime, *args),
        Some(command) => {
            let (action, args) = command
                .control()
                .expect("every other subcommand is a control");
            match runtime.block_on(send(&args.url, action, &args.email)) {
                Ok(Sent::Done(done)) => {
                    println!("{}: {}", done.action.as_str(), done.email);
                    0
                }
                Ok(Sent::Refused(detail)) => {
                    eprintln!("error: {detail}");
                    1
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    2
                }
            }
        }
    };
    // Requests still hanging after a stop must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

/// Serves until killed: 0 then, 2 when the simulator cannot start.
fn serve(runtime: &tokio::runtime::Runtime, args: ServeArgs) -> i32 {
    let port = args.port;
    match runtime.block_on(atlas_sim::serve_until_killed(args.config(), port)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}
