//! An interactive terminal app showing what activation with `tollgate-client` feels like.
//!
//! `cargo run -p tollgate-client --example demo -- --server http://127.0.0.1:8080`
//!
//! Commands at the prompt, or one on the command line: `activate`, `status` (or `check`), `revalidate`, `deactivate`,
//! `quit`; each also by its first letter.

use std::io::{self, BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use tollgate_client::{
    Access, AccessReason, Activation, ClientError, Clock as _, DeviceSource, Keys, License, SystemClock,
    blocking,
};

#[derive(Debug, Parser)]
#[command(about = "Try Tollgate license activation in a terminal")]
struct Args {
    /// The Tollgate server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The app id (the device id is hashed with it; the state lives under it).
    #[arg(long, default_value = "com.example.tollgate-demo")]
    app_id: String,
    /// Where to keep the license state and the pinned keys (default: the platform config dir for the app id).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// A JWKS document to pin (a real app ships one). Without it the demo fetches the server's on first use and
    /// pins that copy in the state dir.
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// Shown when a license is no longer active.
    #[arg(long, default_value = "https://example.com/renew")]
    purchase_url: String,
    /// Pretend to be another computer (any text; hashed like a real machine id).
    #[arg(long)]
    machine_id: Option<String>,
    /// Run one command and exit instead of the prompt.
    #[arg(value_enum)]
    command: Option<Command>,
}

/// What the demo does: at the prompt, or once with the command given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Command {
    /// Activate a license key on this computer.
    #[value(alias = "a")]
    Activate,
    /// Check the license (offline while the lease is fresh).
    #[value(alias = "s", alias = "check", alias = "c")]
    Status,
    /// Check the license with the server, with its key.
    #[value(alias = "r")]
    Revalidate,
    /// Free this computer's activation.
    #[value(alias = "d")]
    Deactivate,
    /// Leave the prompt.
    #[value(alias = "q", alias = "exit")]
    Quit,
}

impl Command {
    /// A command typed at the prompt (the same names and short forms as on the command line).
    fn parse(line: &str) -> Option<Command> {
        <Command as clap::ValueEnum>::from_str(line.trim(), true).ok()
    }
}

const COMMANDS: &str = "Commands: activate, status, revalidate, deactivate, quit";

struct Demo {
    args: Args,
    state_dir: PathBuf,
    client: Option<blocking::Client>,
}

fn say_error(err: &ClientError) {
    println!("✖ {}", err.message());
    println!("  → {}", err.action().label());
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y, %H:%M UTC").to_string()
}

/// `1 minute`, `2 minutes`.
fn count(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn span(d: TimeDelta) -> String {
    let hours = d.num_hours();
    if hours >= 47 {
        // to the nearest day: a lease issued a moment ago for 72 h reads "3 days"
        count((d.num_minutes() + 12 * 60) / (24 * 60), "day")
    } else if hours >= 1 {
        count(hours, "hour")
    } else {
        count(d.num_minutes().max(0), "minute")
    }
}

fn show_license(license: &License) {
    let now = SystemClock.now();
    println!(
        "  Plan:           {}",
        license.plan.as_deref().unwrap_or("(none)")
    );
    println!(
        "  Status:         {}",
        license.status.as_deref().unwrap_or("(unknown)")
    );
    println!("  Product:        {}", license.product);
    println!("  License:        key ending in {}", license.key_last4);
    println!(
        "  Offline grace:  {} (works offline until {})",
        span(license.offline_grace_left(now)),
        when(license.lease_expires_at)
    );
    println!("  Next check:     {}", when(license.refresh_after));
    if !license.features.is_empty() {
        println!("  Features:       {}", license.features.join(", "));
    }
}

fn show_activation(activation: &Activation) {
    println!("✔ Activated. Thank you!");
    show_license(&activation.license);
    match activation.entitlement.current_period_end {
        Some(end) if activation.entitlement.cancel_at_period_end => {
            println!("  Expires:        {} (canceled)", when(end))
        }
        Some(end) => println!("  Renews:         {}", when(end)),
        None => println!("  Expires:        never (perpetual)"),
    }
    if let Some(url) = &activation.entitlement.oauth_url {
        println!("  One more step:  finish at {url}");
    }
}

/// The first lines of an allowed check: why access is allowed, and what to tell the person.
fn access_headline(reason: &AccessReason) -> Vec<String> {
    match reason {
        AccessReason::LeaseFresh => vec!["✔ Licensed (checked offline, no network needed).".into()],
        AccessReason::Revalidated => vec!["✔ Licensed (just checked with the server).".into()],
        // The server answered that it (or the store behind it) is unavailable: this computer is online.
        AccessReason::Offline {
            cause: cause @ ClientError::ServiceUnavailable { .. },
        } => vec![
            "✔ Licensed. The license service could not check it just now.".into(),
            format!("  ! {}", cause.message()),
        ],
        AccessReason::Offline { cause } => {
            vec!["✔ Licensed, offline.".into(), format!("  ! {}", cause.message())]
        }
        AccessReason::RevalidationNeedsKey => {
            vec!["✔ Licensed, offline. A check with the server is due: use `revalidate`.".into()]
        }
        other => vec![format!("✔ Licensed ({other:?}).")],
    }
}

fn show_access(access: &Access) {
    for line in access_headline(&access.reason) {
        println!("{line}");
    }
    show_license(&access.license);
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(80));
    bar
}

fn prompt(label: &str) -> Option<String> {
    print!("{label}");
    io::stdout().flush().ok()?;
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}

/// Pinned keys: `--jwks`, else the copy pinned in the state dir, else the server's (fetched once, then pinned).
fn load_keys(args: &Args, state_dir: &Path) -> Result<Keys, ClientError> {
    let pinned = state_dir.join("jwks.json");
    let path = args
        .jwks
        .clone()
        .or_else(|| pinned.exists().then(|| pinned.clone()));
    if let Some(path) = path {
        let text = std::fs::read_to_string(&path).map_err(|_| ClientError::Misconfigured)?;
        return Keys::from_jwks_json(&text).map_err(|_| ClientError::Misconfigured);
    }
    let url = format!("{}/.well-known/jwks.json", args.server.trim_end_matches('/'));
    let text = jwks_fetch::get(&url)?;
    let keys = Keys::from_jwks_json(&text).map_err(|_| ClientError::UnexpectedResponse)?;
    std::fs::create_dir_all(state_dir).map_err(|_| ClientError::Storage)?;
    std::fs::write(&pinned, text).map_err(|_| ClientError::Storage)?;
    println!("(pinned the server's signing keys in {})", pinned.display());
    Ok(keys)
}

/// The demo's one network call outside the client: fetching the JWKS to pin on first use.
mod jwks_fetch {
    use tollgate_client::ClientError;

    pub fn get(url: &str) -> Result<String, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| ClientError::Misconfigured)?;
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(|_| ClientError::Misconfigured)?;
            let response = client
                .get(url)
                .send()
                .await
                .map_err(|_| ClientError::ServerUnreachable {
                    keep_working_until: None,
                })?;
            if !response.status().is_success() {
                return Err(ClientError::UnexpectedResponse);
            }
            response.text().await.map_err(|_| ClientError::ServerUnreachable {
                keep_working_until: None,
            })
        })
    }
}

impl Demo {
    fn client(&mut self) -> Result<&blocking::Client, ClientError> {
        if self.client.is_none() {
            let keys = load_keys(&self.args, &self.state_dir)?;
            let device = match &self.args.machine_id {
                Some(id) => DeviceSource::Fixed(id.clone()),
                None => DeviceSource::Machine,
            };
            let client = tollgate_client::Client::builder(&self.args.server, &self.args.app_id, keys)
                .state_path(self.state_dir.join(tollgate_client::STATE_FILE_NAME))
                .purchase_url(&self.args.purchase_url)
                .device(device)
                .device_name("tollgate demo")
                .build()?;
            self.client = Some(blocking::Client::from_async(client)?);
        }
        self.client.as_ref().ok_or(ClientError::Misconfigured)
    }

    fn activate(&mut self) {
        let Some(key) = prompt("License key: ") else {
            return;
        };
        // the keys are pinned before the spinner starts, so the note about it does not interleave with the spinner
        let client = match self.client() {
            Ok(client) => client,
            Err(err) => return say_error(&err),
        };
        let bar = spinner("Activating…");
        let result = client.activate(&key);
        bar.finish_and_clear();
        match result {
            Ok(activation) => show_activation(&activation),
            Err(err) => say_error(&err),
        }
    }

    fn status(&mut self) -> Result<Access, ClientError> {
        let result = if self.state_dir.join(tollgate_client::STATE_FILE_NAME).exists() {
            self.client().and_then(|client| client.check())
        } else {
            Err(ClientError::NotActivated)
        };
        match &result {
            Ok(access) => show_access(access),
            Err(err) => say_error(err),
        }
        result
    }

    fn revalidate(&mut self) {
        let Some(key) = prompt("License key (a real app reads it from the OS keychain): ") else {
            return;
        };
        if key.is_empty() {
            println!("No key entered: nothing was checked. {COMMANDS}");
            return;
        }
        let bar = spinner("Checking your license…");
        let result = self.client().and_then(|client| client.check_with_key(&key));
        bar.finish_and_clear();
        match result {
            Ok(access) => show_access(&access),
            Err(err) => say_error(&err),
        }
    }

    fn deactivate(&mut self) {
        let Some(key) = prompt("License key to deactivate on this computer: ") else {
            return;
        };
        let bar = spinner("Deactivating…");
        let result = self.client().and_then(|client| client.deactivate(&key));
        bar.finish_and_clear();
        match result {
            Ok(done) => {
                println!("✔ Deactivated. You can now activate this license on your other computer.");
                if let Some(n) = done.remaining_devices {
                    println!("  Devices still activated: {n}");
                }
            }
            Err(err) => say_error(&err),
        }
    }

    /// Run one command; `false` to leave the prompt.
    fn run(&mut self, command: Command) -> bool {
        match command {
            Command::Activate => self.activate(),
            Command::Status => {
                let _ = self.status();
            }
            Command::Revalidate => self.revalidate(),
            Command::Deactivate => self.deactivate(),
            Command::Quit => return false,
        }
        true
    }
}

fn main() {
    let args = Args::parse();
    let state_dir = match &args.state_dir {
        Some(dir) => dir.clone(),
        None => match directories::ProjectDirs::from("", "", &args.app_id) {
            Some(dirs) => dirs.config_dir().to_path_buf(),
            None => {
                say_error(&ClientError::Storage);
                std::process::exit(2);
            }
        },
    };
    let one_shot = args.command;
    let mut demo = Demo {
        args,
        state_dir,
        client: None,
    };
    if let Some(command) = one_shot {
        demo.run(command);
        return;
    }
    println!("Tollgate demo: {} at {}", demo.args.app_id, demo.args.server);
    println!("State: {}", demo.state_dir.display());
    match demo.status() {
        Err(ClientError::NotActivated) | Err(ClientError::StateCorrupt) => demo.activate(),
        _ => {}
    }
    println!("{COMMANDS}");
    while let Some(line) = prompt("> ") {
        match Command::parse(&line) {
            Some(command) => {
                if !demo.run(command) {
                    break;
                }
            }
            None if line.is_empty() => {}
            None => println!("`{line}` is not a command. {COMMANDS}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_right_in_the_singular_and_the_plural() {
        let minutes = TimeDelta::minutes;
        for (span_of, reads) in [
            (minutes(0), "0 minutes"),
            (minutes(1), "1 minute"),
            (minutes(59), "59 minutes"),
            (minutes(60), "1 hour"),
            (minutes(119), "1 hour"),
            (minutes(120), "2 hours"),
            (TimeDelta::hours(72) - TimeDelta::seconds(5), "3 days"),
        ] {
            assert_eq!(span(span_of), reads, "{span_of}");
        }
    }

    #[test]
    fn a_service_outage_is_not_shown_as_being_offline() {
        let outage = AccessReason::Offline {
            cause: ClientError::ServiceUnavailable {
                keep_working_until: None,
            },
        };
        assert_eq!(
            access_headline(&outage),
            [
                "✔ Licensed. The license service could not check it just now.",
                "  ! The license service is temporarily unavailable. Try again in a few minutes."
            ]
        );
        let offline = AccessReason::Offline {
            cause: ClientError::ServerUnreachable {
                keep_working_until: None,
            },
        };
        assert_eq!(access_headline(&offline)[0], "✔ Licensed, offline.");
    }

    #[test]
    fn only_a_known_command_runs() {
        assert_eq!(Command::parse("revalidate"), Some(Command::Revalidate));
        assert_eq!(Command::parse(" r "), Some(Command::Revalidate));
        assert_eq!(Command::parse("check"), Some(Command::Status));
        assert_eq!(Command::parse("q"), Some(Command::Quit));
        for unknown in ["", "revalidat", "revalidate now", "help", "rm -rf"] {
            assert_eq!(Command::parse(unknown), None, "{unknown}");
        }
        assert!(Args::try_parse_from(["demo", "revalidate"]).is_ok());
        let err = Args::try_parse_from(["demo", "revalidat"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }
}
