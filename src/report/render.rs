//! The four output formats every listing shares: an aligned table for people, spreadsheet-safe
//! CSV, one pretty JSON array, and JSON Lines. A row type says which columns it has through
//! [`Record`]; the formats themselves know nothing about invites or runs.

use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

use super::formula::neutralise;

/// How a listing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for people; long cells are shortened with `…`.
    Table,
    /// Every field, one row per line, safe to open in a spreadsheet.
    Csv,
    /// One JSON array of objects (pretty-printed).
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// Which side of its column a table cell sticks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One table column: header, alignment, and the widest a cell may be before it is shortened.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub align: Align,
    pub max_width: usize,
}

impl Column {
    pub const fn left(name: &'static str, max_width: usize) -> Column {
        Column {
            name,
            align: Align::Left,
            max_width,
        }
    }

    pub const fn right(name: &'static str) -> Column {
        Column {
            name,
            align: Align::Right,
            max_width: 12,
        }
    }
}

/// A row of a listing. Its `Serialize` form is the JSON contract; the CSV columns carry the same
/// names and the same values, flattened (lists joined with `;`).
pub trait Record: Serialize {
    /// CSV header, one name per [`Record::csv_cells`] cell.
    const CSV_HEADERS: &'static [&'static str];
    /// Table columns, one per [`Record::table_cells`] cell.
    const TABLE: &'static [Column];

    fn csv_cells(&self) -> Vec<String>;
    fn table_cells(&self) -> Vec<String>;
}

/// Writes `rows` in `format`. An empty table writes nothing (the caller says so on stderr); an
/// empty CSV still has its header, and empty JSON is `[]`.
pub fn render<R: Record>(rows: &[R], format: ReportFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        ReportFormat::Table => {
            if !rows.is_empty() {
                out.write_all(table(rows).as_bytes())?;
            }
        }
        ReportFormat::Csv => write_csv(rows, out)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            out.write_all(b"\n")?;
        }
        ReportFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()
}

/// [`render`] into a string, for tests and small outputs.
pub fn render_to_string<R: Record>(rows: &[R], format: ReportFormat) -> String {
    let mut out = Vec::new();
    render(rows, format, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("every format writes UTF-8")
}

fn write_csv<R: Record>(rows: &[R], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    writer.write_record(R::CSV_HEADERS)?;
    for row in rows {
        let cells = row.csv_cells();
        debug_assert_eq!(cells.len(), R::CSV_HEADERS.len());
        writer.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    writer.flush()
}

/// An aligned table: a header line, then one line per row, two spaces between columns, no
/// trailing blanks.
fn table<R: Record>(rows: &[R]) -> String {
    let columns = R::TABLE;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.table_cells()
                .iter()
                .zip(columns)
                .map(|(cell, column)| fit(&printable(cell), column.max_width))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.name.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|c| c.name.to_owned()).collect();
    for line in std::iter::once(&header).chain(&cells) {
        let mut text = String::new();
        for (i, ((cell, column), width)) in line.iter().zip(columns).zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            match column.align {
                Align::Left => {
                    text.push_str(cell);
                    text.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    text.extend(std::iter::repeat_n(' ', pad));
                    text.push_str(cell);
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `cell` safe to print on a terminal (see [`crate::terminal::safe`]: control characters become
/// spaces, so line breaks cannot break the alignment nor escape sequences drive the terminal),
/// and an empty cell shows as `-`.
fn printable(cell: &str) -> String {
    if cell.is_empty() {
        return "-".to_owned();
    }
    crate::terminal::safe(cell).into_owned()
}

/// `cell` cut to `max` characters, the last one replaced with `…` when it was longer.
fn fit(cell: &str, max: usize) -> String {
    if cell.chars().count() <= max {
        return cell.to_owned();
    }
    let mut out: String = cell.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: String,
        count: i64,
    }

    impl Record for Row {
        const CSV_HEADERS: &'static [&'static str] = &["name", "count"];
        const TABLE: &'static [Column] = &[Column::left("NAME", 8), Column::right("COUNT")];

        fn csv_cells(&self) -> Vec<String> {
            vec![self.name.clone(), self.count.to_string()]
        }

        fn table_cells(&self) -> Vec<String> {
            self.csv_cells()
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                name: "=cmd|' /C calc'!A0".into(),
                count: 7,
            },
            Row {
                name: "two\nlines".into(),
                count: 1234,
            },
            Row {
                name: String::new(),
                count: -1,
            },
        ]
    }

    #[test]
    fn tables_align_shorten_and_strip_control_characters() {
        let text = render_to_string(&rows(), ReportFormat::Table);
        assert_eq!(
            text,
            "NAME      COUNT\n=cmd|' …      7\ntwo lin…   1234\n-            -1\n"
        );
        assert_eq!(render_to_string::<Row>(&[], ReportFormat::Table), "");
    }

    #[test]
    fn csv_cells_are_neutralised_and_quoted() {
        let text = render_to_string(&rows(), ReportFormat::Csv);
        assert_eq!(
            text,
            "name,count\n'=cmd|' /C calc'!A0,7\n\"two\nlines\",1234\n,'-1\n"
        );
    }

    #[test]
    fn json_is_one_array_and_jsonl_one_object_per_line() {
        let json = render_to_string(&rows(), ReportFormat::Json);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed[0]["name"], "=cmd|' /C calc'!A0",
            "JSON is not neutralised"
        );
        assert_eq!(parsed.as_array().unwrap().len(), 3);
        let jsonl = render_to_string(&rows(), ReportFormat::Jsonl);
        assert_eq!(jsonl.lines().count(), 3);
        assert_eq!(render_to_string::<Row>(&[], ReportFormat::Json), "[]\n");
    }
}
