//! `tollgate dev`: one command, a complete local world to try Tollgate in: every registered provider's fake on
//! loopback (each adapter's `dev_fake`, in this process), generated secrets and tokens, and the real server (the
//! same `configure` as `serve`) on a SQLite file in `--dir`. Demo license keys are seeded into the fakes; the
//! banner (or `--json`) says how to use them. Every provider `api_base` is a loopback fake, so no request can
//! reach a real provider.
//!
//! Built only with the cargo feature `dev` (on by default).

mod output;
mod world;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use tollgate_policy::Provider;

use crate::app::{Mode, ServeOptions};
use crate::cli::CliError;
use crate::cli::loopback::{is_loopback_addr, is_loopback_url, live_provider_apis};
use crate::settings::{ConfigFile, Settings};
use crate::startup::StartupError;
use world::{Secrets, World};

/// The file in `--dir` that marks a directory `tollgate dev` made (and may therefore empty).
const MARKER: &str = ".tollgate-dev";

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Listen here: a loopback address (127.0.0.1:0 picks a free port; the banner and --json say which).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// The dev world's directory: its SQLite database, key file, JWKS and generated configuration. Emptied at
    /// every start (only a directory `tollgate dev` made itself, or an empty one).
    #[arg(long, default_value = "./tollgate-dev", value_name = "DIR")]
    pub dir: PathBuf,
    /// Once listening, print exactly one line of JSON on stdout (server URL, tokens, JWKS, keys, fake providers)
    /// instead of the banner; logs stay on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DevArgs) -> Result<(), CliError> {
    let listen = loopback_listen(&args.listen)?;
    let dir = prepare_dir(&args.dir)?;
    let world = Arc::new(World::start(Secrets::generate()?)?);
    let database = dir.join("tollgate.db");
    let config_path = dir.join("tollgate.toml");
    write_private(&config_path, &world.config_toml(&listen.to_string(), &database)?)?;
    // The file alone, no environment: nothing the shell sets can point dev at a real provider.
    let settings = Settings::load_from(ConfigFile::Explicit(&config_path), std::iter::empty())?;
    check_all_loopback(&settings)?;

    log::warn!(
        dir = dir.display().to_string().as_str();
        "DEV: tollgate dev runs with fake {} on loopback and generated secrets, data in {}; \
         never use it for real licenses",
        world.names(),
        dir.display()
    );
    let on_listening = {
        let world = world.clone();
        let json = args.json;
        let dir = dir.clone();
        move |addr: SocketAddr, state: &crate::app::AppState| {
            let config = world
                .config_toml(&addr.to_string(), &database)
                .map_err(|e| StartupError::Io(std::io::Error::other(e.to_string())))?;
            write_private(&config_path, &config)
                .map_err(|e| StartupError::Io(std::io::Error::other(e.to_string())))?;
            output::seed_through_webhooks(&world, state);
            let jwks = output::jwks(state)?;
            write_private(
                &dir.join("jwks.json"),
                &serde_json::to_string_pretty(&jwks).unwrap_or_default(),
            )
            .map_err(|e| StartupError::Io(std::io::Error::other(e.to_string())))?;
            let report = output::Report::new(addr, &world, jwks);
            if json {
                output::print_json(&report)
            } else {
                output::print_banner(&report, &world, &dir);
                Ok(())
            }
        }
    };
    let routes = {
        let world = world.clone();
        Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
            crate::http::dev::routes(cfg, world.clone());
        })
    };
    let options = ServeOptions {
        mode: Mode::Dev,
        routes: Some(routes),
        on_listening: Some(Box::new(on_listening)),
    };
    let result = actix_web::rt::System::new().block_on(crate::app::serve_with(settings, options));
    drop(world);
    result.map_err(CliError::from)
}

/// `--listen`, which must be a loopback `IP:PORT`.
fn loopback_listen(listen: &str) -> Result<SocketAddr, CliError> {
    let addr: SocketAddr = listen.trim().parse().map_err(|_| {
        CliError::Usage(format!(
            "--listen `{listen}` is not an address: write IP:PORT, for example 127.0.0.1:8080 (or 127.0.0.1:0 for a \
             free port)"
        ))
    })?;
    if !is_loopback_addr(&addr) {
        return Err(CliError::Usage(format!(
            "--listen {addr} is not a loopback address: tollgate dev prints its tokens and its providers are fakes, \
             so it only listens on this machine (127.0.0.1:PORT or [::1]:PORT). For a real server use `tollgate \
             serve`"
        )));
    }
    Ok(addr)
}

/// Make `dir` an empty dev directory with its marker, and return it absolute. Refuses a directory with content
/// that `tollgate dev` did not make: it could hold a real database.
fn prepare_dir(dir: &Path) -> Result<PathBuf, CliError> {
    let failed =
        |what: &str, e: std::io::Error| CliError::Failed(format!("cannot {what} {}: {e}", dir.display()));
    if dir.exists() {
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "--dir {} is a file, not a directory: choose another --dir",
                dir.display()
            )));
        }
        let marked = dir.join(MARKER).is_file();
        let empty = fs::read_dir(dir).map_err(|e| failed("read", e))?.next().is_none();
        if !marked && !empty {
            return Err(CliError::Usage(format!(
                "--dir {} holds files that tollgate dev did not make, and dev empties its directory at every \
                 start: choose another --dir (the default is ./tollgate-dev)",
                dir.display()
            )));
        }
        if marked {
            fs::remove_dir_all(dir).map_err(|e| failed("empty", e))?;
        }
    }
    fs::create_dir_all(dir).map_err(|e| failed("create", e))?;
    restrict_dir(dir).map_err(|e| failed("restrict", e))?;
    write_private(
        &dir.join(MARKER),
        "This directory belongs to `tollgate dev`, which empties it at every start.\n",
    )?;
    dir.canonicalize().map_err(|e| failed("resolve", e))
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Write a file only its owner can read (it holds this run's secrets).
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = options.open(path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    write().map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))
}

/// Every provider `api_base` must be a loopback fake, and no live client may be built (a second check on the
/// generated configuration, so a future change to it cannot quietly point dev at a real provider).
fn check_all_loopback(settings: &Settings) -> Result<(), CliError> {
    for provider in Provider::ALL {
        let base = &settings.providers.get(provider).api_base;
        if !is_loopback_url(base) {
            return Err(CliError::Failed(format!(
                "tollgate dev would call {provider} at {base}, which is not a loopback fake: refusing to start"
            )));
        }
    }
    let live = live_provider_apis(settings)?;
    if !live.is_empty() {
        return Err(CliError::Failed(format!(
            "tollgate dev would call live provider APIs {live:?}: refusing to start"
        )));
    }
    Ok(())
}
