//! The policy crate's integration suite: one binary, one module per noun.

mod apply_props;
mod apply_table;
mod common;
mod config_toml;
mod decide_props;
mod decide_table;
mod devices_table;
mod flows;
mod status_table;
