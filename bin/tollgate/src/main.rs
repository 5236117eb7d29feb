//! The `tollgate` binary: the server and the operator CLI.

#[expect(
    dead_code,
    reason = "the server and CLI that read every setting are being wired next"
)]
mod settings;

use std::process::ExitCode;

fn main() -> ExitCode {
    match settings::Settings::load(settings::ConfigFile::Default) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
