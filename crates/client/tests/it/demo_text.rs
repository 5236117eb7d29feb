//! The demo example's own unit tests (what it prints, which commands it takes), run by `cargo test` through its
//! source included here. The example itself stays a plain binary, which the tmux tests drive.

#[expect(
    dead_code,
    reason = "the demo's source, included for its #[cfg(test)] unit tests; its main is not called"
)]
#[path = "../../examples/demo.rs"]
mod demo;
