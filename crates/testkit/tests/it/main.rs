//! The testkit's integration suite: one binary, one module per noun.

mod connections;
mod fakes;
mod fakes_dodo;
mod signing;
