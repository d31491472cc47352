//! What `report`, `runs`, `history` and `export` print: the four output formats
//! ([`ReportFormat`]: aligned table, spreadsheet-safe CSV, JSON, JSON Lines), the columns of each
//! listing, formula-injection neutralisation for every CSV this tool writes, and the HTML page of
//! `report --format html` ([`html`]).
//!
//! The rows come from [`crate::journal`] (`reports.rs` holds the SQL); this module only renders
//! them, so a new column is added to the row type, its SQL, and its [`Record`] impl here.

pub mod formula;
pub mod html;
mod render;
mod rows;

pub use formula::{is_formula_like, neutralise};
pub use html::ReportCommandFormat;
pub use render::{Align, Column, Record, ReportFormat, render, render_to_string};

#[cfg(test)]
mod tests;
