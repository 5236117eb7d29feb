//! `tollgate doctor`: a setup checklist that separates what is done from what is pending, says how to fix each
//! pending item, and exits non-zero only when something is broken. It works offline and creates nothing: a missing
//! SQLite file or key file is reported, not made. It checks by doing where it can: it writes (and removes) a probe
//! file where the database lives, opens the database, decrypts the stored data with the keys, and connects to the
//! listen address.

mod checks;
mod online;
mod probes;
mod providers;
mod report;

use std::path::Path;

pub use report::{Check, Report, Status};

use crate::cli::{CliError, DoctorArgs, load_settings};
use crate::settings::Settings;

pub fn run(config: Option<&Path>, args: &DoctorArgs) -> Result<(), CliError> {
    let mut checks = collect(config)?;
    if args.online {
        let settings = load_settings(config)?;
        checks.extend(online::probe(&settings)?);
    }
    let report = Report::new(checks);
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::Failed(format!("cannot print the report as JSON: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", report.render());
    }
    if report.broken > 0 {
        return Err(CliError::SetupBroken(report.broken));
    }
    Ok(())
}

fn collect(config: Option<&Path>) -> Result<Vec<Check>, CliError> {
    const SECTION: &str = "Configuration";
    let file = match config {
        Some(path) => format!("{} (--config)", path.display()),
        None if Path::new("tollgate.toml").is_file() => "tollgate.toml".to_owned(),
        None => "no tollgate.toml in this directory".to_owned(),
    };
    let settings = match load_settings(config) {
        Ok(settings) => settings,
        Err(CliError::Config(e)) => {
            let check = Check::broken(
                SECTION,
                "configuration",
                format!("the configuration does not load: {e}"),
            )
            .fix("correct that key (docs/configuration.md lists every key) and run `tollgate doctor` again")
            .note(format!(
                "layers: embedded defaults, {file}, TOLLGATE_* environment variables"
            ));
            return Ok(vec![check]);
        }
        Err(other) => return Err(other),
    };
    let mut checks = vec![
        Check::done(SECTION, "configuration", "the configuration loads and validates").note(format!(
            "layers: embedded defaults, {file}, TOLLGATE_* environment variables"
        )),
    ];
    checks.extend(checklist(&settings));
    Ok(checks)
}

/// The checks of loaded settings: data files, database and keys, providers, tokens, policy, server (the console's
/// Overview shows them too). Blocking: it probes the data directory, the database and the listen address.
pub fn checklist(settings: &Settings) -> Vec<Check> {
    let mut checks = probes::data_files(settings);
    checks.extend(checks::database_and_keys(settings));
    checks.extend(providers::providers(settings));
    checks.extend(checks::tokens(settings));
    checks.extend(checks::policy(settings));
    checks.extend(checks::server(settings));
    checks
}
