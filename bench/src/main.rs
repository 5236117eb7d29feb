#![doc = include_str!("../README.md")]

mod bodies;
mod ceiling;
mod error;
mod load;
mod plan;
mod report;
mod run;
mod scenario;
mod server;
mod stats;
mod storage;
mod target;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser as _;

use crate::error::BenchError;
use crate::report::Report;
use crate::run::{Env, Format, RunArgs, Scenario};

/// Load tool for Tollgate: drives a real server on loopback and reports throughput, latency percentiles, errors
/// and peak RSS next to baselines measured in the same run.
#[derive(Debug, clap::Parser)]
#[command(
    name = "tollgate-bench",
    version,
    after_help = "Examples:\n  tollgate-bench run --scenario ingest --db sqlite --duration 20s\n  \
                  tollgate-bench run --scenario validate --licenses 1000 --json validate.json\n  \
                  tollgate-bench run --scenario activate --requests 3000 --provider-latency 5ms\n  \
                  tollgate-bench serve-ceiling --listen 127.0.0.1:9000"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a scenario with its baselines and print the report.
    Run(Box<RunArgs>),
    /// The ceiling server: the same actix-web stack answering a constant JSON body to every request.
    ServeCeiling {
        #[arg(long)]
        listen: SocketAddr,
        /// Worker threads (default: actix-web's, one per core, like `tollgate serve`).
        #[arg(long)]
        workers: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ServeCeiling { listen, workers } => {
            if !listen.ip().is_loopback() {
                eprintln!("error: serve-ceiling listens on loopback only, not {listen}");
                return ExitCode::from(2);
            }
            ceiling::serve_ceiling(listen, workers).map_err(BenchError::Io)
        }
        Command::Run(args) => run_command(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                BenchError::Usage { .. } | BenchError::Target { .. } => 2,
                _ => 1,
            })
        }
    }
}

fn run_command(args: RunArgs) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let format = args.format;
    let json_path = args.json.clone();
    let report = runtime.block_on(async move {
        let env = Env::new(args)?;
        dispatch(env).await
    })?;
    if let Some(path) = &json_path {
        std::fs::write(path, report.to_json()).map_err(|e| BenchError::file(path, e))?;
    }
    match format {
        Format::Table => print!("{}", report.to_table()),
        Format::Json => println!("{}", report.to_json()),
    }
    Ok(())
}

async fn dispatch(env: Env) -> Result<Report, BenchError> {
    match env.args.scenario {
        Scenario::Ingest | Scenario::Ceiling => scenario::ingest::run(env).await,
        Scenario::StorageCeiling => scenario::ingest::run_storage_only(env).await,
        Scenario::Validate => scenario::validate::run(env).await,
        Scenario::Activate => scenario::activate::run(env).await,
    }
}
