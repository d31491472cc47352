//! The `atlas-sim` binary: serve the Atlas simulator on 127.0.0.1 until killed, as
//! `atlas-invite simulate` does, without the client around it.
//!
//! Exit codes: 0 after Ctrl-C or SIGTERM, 2 on a usage error or when the simulator cannot start
//! (the port is taken, say).

use clap::Parser;

use atlas_sim::cli::ServeArgs;

fn main() {
    // clap exits with code 2 on a usage error.
    let args = ServeArgs::parse();
    let port = args.port;
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
    let code = match runtime.block_on(atlas_sim::serve_until_killed(args.config(), port)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    // Requests still hanging after a stop must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
