//! The `tollgate` binary: the server and the operator CLI. Parses the command line, starts logging, runs the
//! command, and turns a failure into one `error: ...` line and a non-zero exit code (1: the operation failed,
//! 2: a usage or configuration problem).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use tollgate::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `env_logger` to stderr at `info` unless `RUST_LOG` says otherwise, with each record's key-values.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}
