//! The `atlas-invite` binary: parse the command line, start the runtime, run, exit with the
//! documented code.

use clap::Parser;

fn main() {
    // clap exits with code 2 on a usage error, as documented.
    let cli = atlas_invite::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            std::process::exit(atlas_invite::exit::USAGE);
        }
    };
    let code = runtime.block_on(atlas_invite::run(cli));
    // Requests still hanging after a stop must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
