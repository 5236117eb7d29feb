//! The testkit's integration suite: one binary, one module per noun.

mod connections;
mod fakes;
mod fakes_aghanim_dodo;
mod signing;
