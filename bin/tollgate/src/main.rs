//! The `tollgate` binary: the server and the operator CLI.

use std::process::ExitCode;

use tollgate::settings::{ConfigFile, Settings};

fn main() -> ExitCode {
    match Settings::load(ConfigFile::Default) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
