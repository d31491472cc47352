//! Byte-level work around the `csv` reader: finding the header line (to detect the delimiter),
//! and a pass-through reader that follows the same quoting rules as `csv` to know the physical
//! line each record starts on and whether a quote is still open at the end of the input.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads whole lines up to and including the first one with content (the header), dropping
/// leading UTF-8 BOMs (`csv` would drop one, and the scanner must see what `csv` parses). Returns the bytes read and where the header line starts in them; the
/// bytes must be fed to the CSV reader before the rest of the input.
pub(super) fn read_to_header(input: &mut impl BufRead) -> io::Result<(Vec<u8>, usize)> {
    let mut prefix = Vec::new();
    loop {
        let start = prefix.len();
        let read = input.read_until(b'\n', &mut prefix)?;
        while start == 0 && prefix.starts_with(BOM) {
            prefix.drain(..BOM.len());
        }
        let content = prefix[start..].iter().any(|b| {
            !matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' | b'"' | 0xEF | 0xBB | 0xBF
            )
        });
        if read == 0 || content {
            return Ok((prefix, start));
        }
    }
}

/// The delimiter among `,`, `;` and tab that occurs most often outside quotes in the header line;
/// `,` on a tie or when there is none.
pub(super) fn detect_delimiter(line: &[u8]) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
            counts[i] += 1;
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// Where the scanner is, mirroring `csv_core`'s automaton for the settings the roster uses
/// (quote `"`, doubled quotes, no escape character, no comments, any of CR, LF, CRLF ending a
/// record, blank lines skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Between records: line endings are skipped, anything else starts a record.
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// Just read a `"` inside a quoted field: either the closing quote or the first of `""`.
    QuoteInQuoted,
}

/// Byte classes for the scanner; anything else is [`PLAIN`].
const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const DELIMITER: u8 = 2;
const CR: u8 = 3;
const LF: u8 = 4;

/// Passes bytes through to the CSV reader and records the line each record starts on.
pub(super) struct Scanner<R> {
    inner: R,
    pub(super) class: [u8; 256],
    pub(super) state: State,
    /// Line of the next byte (CR, LF and CRLF each end one line).
    pub(super) line: u64,
    after_cr: bool,
    /// Line where the current quoted field opened.
    quote_line: u64,
    /// Start lines of the records scanned but not yet claimed by [`Self::next_record_line`].
    pub(super) starts: VecDeque<u64>,
    eof: bool,
}

impl<R> Scanner<R> {
    pub(super) fn new(inner: R, delimiter: u8) -> Scanner<R> {
        let mut class = [PLAIN; 256];
        class[usize::from(delimiter)] = DELIMITER;
        class[usize::from(b'"')] = QUOTE;
        class[usize::from(b'\r')] = CR;
        class[usize::from(b'\n')] = LF;
        Scanner {
            inner,
            class,
            state: State::RecordStart,
            line: 1,
            after_cr: false,
            quote_line: 0,
            starts: VecDeque::new(),
            eof: false,
        }
    }

    /// The line of the next record the CSV reader returns (call once per record, in order).
    pub(super) fn next_record_line(&mut self) -> Option<u64> {
        self.starts.pop_front()
    }

    /// The line reached so far.
    pub(super) fn line(&self) -> u64 {
        self.line
    }

    /// At the end of the input, the line of a quote that was never closed.
    pub(super) fn unclosed_quote_line(&self) -> Option<u64> {
        (self.eof && self.state == State::Quoted).then_some(self.quote_line)
    }

    pub(super) fn scan(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            // Runs of bytes that cannot change the state are skipped in a tight loop: plain
            // bytes (and quotes) inside an unquoted field, anything but quotes and line ends
            // inside a quoted one.
            match self.state {
                State::Unquoted => {
                    while i < bytes.len() && self.class[usize::from(bytes[i])] <= QUOTE {
                        i += 1;
                    }
                }
                State::Quoted => {
                    let from = i;
                    while i < bytes.len()
                        && matches!(self.class[usize::from(bytes[i])], PLAIN | DELIMITER)
                    {
                        i += 1;
                    }
                    if i > from {
                        self.after_cr = false;
                    }
                }
                _ => {}
            }
            let Some(&b) = bytes.get(i) else { break };
            i += 1;
            self.step(self.class[usize::from(b)]);
        }
    }

    /// Follows one byte of class `class`.
    pub(super) fn step(&mut self, class: u8) {
        let line = self.line;
        let ends_line = match class {
            LF => {
                if !self.after_cr {
                    self.line += 1;
                }
                self.after_cr = false;
                true
            }
            CR => {
                self.line += 1;
                self.after_cr = true;
                true
            }
            _ => {
                self.after_cr = false;
                false
            }
        };
        self.state = match self.state {
            State::Quoted if class == QUOTE => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::RecordStart if ends_line => State::RecordStart,
            State::RecordStart | State::FieldStart if class == QUOTE => {
                if self.state == State::RecordStart {
                    self.starts.push_back(line);
                }
                self.quote_line = line;
                State::Quoted
            }
            State::QuoteInQuoted if class == QUOTE => State::Quoted,
            state => {
                if state == State::RecordStart {
                    self.starts.push_back(line);
                }
                if class == DELIMITER {
                    State::FieldStart
                } else if ends_line {
                    State::RecordStart
                } else {
                    State::Unquoted
                }
            }
        };
    }
}

impl<R: Read> Read for Scanner<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.scan(&buf[..read]);
        Ok(read)
    }
}
