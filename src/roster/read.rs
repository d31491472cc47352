//! Reading a file: the encoding (BOM, `--encoding`), the header line and the delimiter, then
//! the records, each with the physical line it starts on. [`scan`] hands the validated rows to a
//! visitor one at a time; [`load`] and [`parse`] collect them into a [`Roster`]; [`read_raw`]
//! gives the rows a run reads as they are written, for `export`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;

use csv::ByteRecord;
use encoding_rs::Encoding;

use super::builder::Builder;
use super::layout::Layout;
use super::scan::{self, Scanner};
use super::{
    RawRows, Roster, RosterError, RosterOptions, RosterSummary, RowOutcome, clean, encoding,
};

/// Reads and validates the roster at `path`, keeping every row: see [`scan`] to stream them.
pub fn load(path: &Path, options: &RosterOptions) -> Result<Roster, RosterError> {
    collect(|visit| scan(path, options, visit))
}

/// Reads and validates a roster from any reader (read errors name the path `<input>`).
pub fn parse<R: Read>(reader: R, options: &RosterOptions) -> Result<Roster, RosterError> {
    collect(|visit| scan_from(reader, Path::new("<input>"), options, visit))
}

/// Keeps every row a scan hands over.
fn collect(
    scan: impl FnOnce(
        &mut dyn FnMut(RowOutcome) -> ControlFlow<()>,
    ) -> Result<RosterSummary, RosterError>,
) -> Result<Roster, RosterError> {
    let (mut invitees, mut invalid, mut duplicates) = (Vec::new(), Vec::new(), Vec::new());
    let summary = scan(&mut |row| {
        match row {
            RowOutcome::Valid(invitee) => invitees.push(invitee),
            RowOutcome::Invalid(row) => invalid.push(row),
            RowOutcome::Duplicate(duplicate) => duplicates.push(duplicate),
        }
        ControlFlow::Continue(())
    })?;
    Ok(Roster {
        invitees,
        invalid,
        duplicates,
        ignored_columns: summary.ignored_columns,
        columns: summary.columns,
        rows: summary.rows,
        delimiter: summary.delimiter,
        filtered_out: summary.filtered_out,
        encoding: summary.encoding,
        rules: summary.rules,
    })
}

/// Reads and validates the roster at `path` row by row: `visit` gets each row that is not
/// filtered out, in file order, and may stop the reading with [`ControlFlow::Break`] (the
/// summary then counts the rows read so far). Only the duplicate index stays in memory, so the
/// cost of a file does not grow with its rows beyond a few dozen bytes per person.
///
/// A file-level problem ([`RosterError`]) can come after rows were handed over: a caller that
/// acts on rows must be able to undo that.
pub fn scan(
    path: &Path,
    options: &RosterOptions,
    visit: impl FnMut(RowOutcome) -> ControlFlow<()>,
) -> Result<RosterSummary, RosterError> {
    let file = File::open(path).map_err(|source| RosterError::Io {
        path: path.to_owned(),
        source,
    })?;
    scan_from(file, path, options, visit)
}

/// [`scan`] from any reader; read errors name `path`.
pub fn scan_from<R: Read>(
    reader: R,
    path: &Path,
    options: &RosterOptions,
    mut visit: impl FnMut(RowOutcome) -> ControlFlow<()>,
) -> Result<RosterSummary, RosterError> {
    let mut opened = open(reader, options, path)?;
    let mut builder = Builder::new(opened.layout, options, opened.delimiter);
    while let Some(line) = opened.records.next()? {
        if let Some(row) = builder.row(&opened.records.record, line)
            && visit(row).is_break()
        {
            break;
        }
    }
    Ok(builder.finish(opened.ignored_columns, opened.encoding))
}

/// The header and the rows a run of `path` with `options` reads (not blank, not filtered out by
/// `--where` or the rules), cell for cell as written, decoded to UTF-8.
pub fn read_raw(path: &Path, options: &RosterOptions) -> Result<RawRows, RosterError> {
    let file = File::open(path).map_err(|source| RosterError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut opened = open(file, options, path)?;
    let cells = |record: &ByteRecord| -> Vec<String> {
        // Every field was checked to be UTF-8 when the record was read.
        record
            .iter()
            .map(|field| String::from_utf8_lossy(field).into_owned())
            .collect()
    };
    let header = cells(&opened.header);
    let email_index = opened.layout.email.index;
    let mut builder = Builder::new(opened.layout, options, opened.delimiter);
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    while let Some(line) = opened.records.next()? {
        if let Some(outcome) = builder.row(&opened.records.record, line) {
            rows.push(cells(&opened.records.record));
            problems.push(match outcome {
                RowOutcome::Invalid(bad) => Some(bad.reason()),
                RowOutcome::Valid(_) | RowOutcome::Duplicate(_) => None,
            });
        }
    }
    Ok(RawRows {
        header,
        rows,
        problems,
        email_index,
        delimiter: opened.delimiter,
        encoding: opened.encoding,
        bom: opened.bom,
    })
}

const BUFFER: usize = 64 * 1024;

/// The input as the CSV reader sees it: the lines read to find the header, then the rest.
type Input<'r> = io::Chain<io::Cursor<Vec<u8>>, Box<dyn BufRead + 'r>>;

/// A file read up to its header line.
struct Opened<'r> {
    records: Records<'r>,
    layout: Layout,
    header: ByteRecord,
    ignored_columns: Vec<String>,
    delimiter: u8,
    encoding: &'static Encoding,
    /// Whether the file started with a byte order mark.
    bom: bool,
}

/// Opens `reader`: picks the encoding (transcoding anything but UTF-8), finds the header line,
/// the delimiter and the columns.
fn open<'r, R: Read + 'r>(
    reader: R,
    options: &RosterOptions,
    path: &'r Path,
) -> Result<Opened<'r>, RosterError> {
    let io_error = |source| RosterError::Io {
        path: path.to_owned(),
        source,
    };
    let mut input = BufReader::with_capacity(BUFFER, reader);
    let start = input.fill_buf().map_err(io_error)?;
    let bom = encoding::sniff_bom(start);
    let chosen = encoding::choose(bom, options.encoding);
    // UTF-8 goes to the CSV reader as it is (a UTF-8 BOM is dropped by the header scan), and
    // each field's UTF-8 is checked where it is read. One indirect call per 64 KiB buffer is
    // all the boxing costs.
    let mut input: Box<dyn BufRead + 'r> = if chosen == encoding_rs::UTF_8 {
        Box::new(input)
    } else {
        Box::new(encoding::decoder(input, chosen))
    };

    let (prefix, header_start) = scan::read_to_header(&mut input).map_err(io_error)?;
    if options.encoding.is_none()
        && chosen == encoding_rs::UTF_8
        && encoding::looks_like_utf16(&prefix[header_start..])
    {
        return Err(RosterError::LooksUtf16);
    }
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| scan::detect_delimiter(&prefix[header_start..]));
    let scanner = Scanner::new(io::Cursor::new(prefix).chain(input), delimiter);
    let csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(BUFFER)
        .from_reader(scanner);
    let mut records = Records {
        csv,
        record: ByteRecord::new(),
        path,
    };

    let Some(header_line) = records.next()? else {
        return Err(RosterError::Empty);
    };
    let (layout, ignored_columns) = match Layout::from_header(&records.record, header_line, options)
    {
        Ok(found) => found,
        Err(err) => {
            records.unclosed_quote()?;
            return Err(err);
        }
    };
    Ok(Opened {
        header: records.record.clone(),
        records,
        layout,
        ignored_columns,
        delimiter,
        encoding: chosen,
        bom: bom.is_some(),
    })
}

/// The non-blank records of a file, one at a time, in `record`.
struct Records<'r> {
    csv: csv::Reader<Scanner<Input<'r>>>,
    record: ByteRecord,
    path: &'r Path,
}

impl Records<'_> {
    /// Reads the next non-blank record into `self.record` and returns the physical line it
    /// starts on; `None` at the end of the input.
    fn next(&mut self) -> Result<Option<u64>, RosterError> {
        loop {
            let Some(line) = self.next_record()? else {
                self.unclosed_quote()?;
                return Ok(None);
            };
            if !is_blank(&self.record, line)? {
                return Ok(Some(line));
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<u64>, RosterError> {
        match self.csv.read_byte_record(&mut self.record) {
            Ok(true) => {
                // csv's own `Position::line` drifts after blank lines and CRLF endings, so the
                // scanner counts physical lines itself.
                let line = self
                    .csv
                    .get_mut()
                    .next_record_line()
                    .or_else(|| self.record.position().map(csv::Position::line))
                    .unwrap_or(0);
                Ok(Some(line))
            }
            Ok(false) => Ok(None),
            Err(err) => {
                let line = err
                    .position()
                    .map(csv::Position::line)
                    .unwrap_or_else(|| self.csv.get_ref().line());
                let message = err.to_string();
                Err(match err.into_kind() {
                    csv::ErrorKind::Io(source) => RosterError::Io {
                        path: self.path.to_owned(),
                        source,
                    },
                    _ => RosterError::Csv {
                        line,
                        message: format!("malformed CSV ({message}): fix this line and try again"),
                    },
                })
            }
        }
    }

    /// At the end of the input, a quote that was opened and never closed swallowed the rest of
    /// the file into one cell: that is a file-level error.
    fn unclosed_quote(&self) -> Result<(), RosterError> {
        match self.csv.get_ref().unclosed_quote_line() {
            Some(line) => Err(RosterError::Csv {
                line,
                message: "a quote (\") opened on this line is never closed, so the rest of the \
                          file reads as one cell: add the closing quote or remove the opening one"
                    .to_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// Checks that every field is UTF-8, and tells whether the record has only blank cells.
fn is_blank(record: &ByteRecord, line: u64) -> Result<bool, RosterError> {
    let mut blank = true;
    for field in record {
        let text = std::str::from_utf8(field).map_err(|_| RosterError::NotUtf8 { line })?;
        blank = blank && clean(text).is_empty();
    }
    Ok(blank)
}
