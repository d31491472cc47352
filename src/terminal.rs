//! Printing to a terminal safely.
//!
//! Text that comes from outside — Atlas's `errorCode` and `detail`, response headers, CSV cells,
//! file names — can hold bytes a terminal acts on: ESC starts sequences that move the cursor,
//! recolour or retitle the window (OSC), CR rewrites the line, NUL and BEL do their own things,
//! and Unicode format characters (zero-width spaces, bidirectional overrides) hide or reorder
//! what is shown. Everything printed for people passes such text through [`safe`] (one line) or
//! [`safe_lines`] (keeps line breaks).
//!
//! Standard output can also be a pipe that closes early (`atlas-invite … | head`): `println!`
//! would panic there. [`out`] and the [`outln!`](crate::outln) macro write to stdout and turn
//! a closed pipe into silence, so a command ends normally with nothing more printed.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use unicode_general_category::{GeneralCategory, get_general_category};

/// True for a character that must not reach a terminal as it is: a control character (C0, DEL,
/// C1), a line or paragraph separator, or a Unicode format character (category Cf: U+200B..
/// U+200F, U+202A..U+202E, U+2060..U+2064, U+2066..U+2069, U+FEFF, soft hyphen, …).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// True for a character that prints as nothing or changes how the text around it is ordered:
/// Unicode format characters (Cf) and the line and paragraph separators.
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii()
        && (matches!(c, '\u{2028}' | '\u{2029}')
            || get_general_category(c) == GeneralCategory::Format)
}

/// `text` safe to print on one line: control characters become spaces (so that columns stay
/// aligned, as before), invisible ones become a visible `<U+200B>` (so that an address holding
/// one does not look like a clean one).
pub fn safe(text: &str) -> Cow<'_, str> {
    neutralise(text, false)
}

/// [`safe`], but line feeds are kept: for messages that are several lines on purpose.
pub fn safe_lines(text: &str) -> Cow<'_, str> {
    neutralise(text, true)
}

fn neutralise(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        }
    }
    Cow::Owned(out)
}

/// Set once a write to stdout found the pipe closed: later writes are not attempted.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. A closed pipe (the reader went away) is not an error: the rest of the
/// output is dropped, quietly, and the command carries on to its normal end and exit code — a
/// run must still commit its journal. Other write errors are returned.
pub fn out(args: fmt::Arguments<'_>) -> io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// Whether stdout was found closed; a command that only prints may stop early.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` that never panics: a closed stdout drops the line (see [`out`]); any other write
/// error is reported once on stderr, as a full disk would deserve, and the line is dropped.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::terminal::out_or_warn(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::terminal::out_or_warn(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics; see [`outln!`](crate::outln).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::terminal::out_or_warn(format_args!($($arg)*))
    };
}

/// [`out`], reporting any error other than a closed pipe on stderr once.
pub fn out_or_warn(args: fmt::Arguments<'_>) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let Err(e) = out(args)
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        let _ = writeln!(
            io::stderr(),
            "error: failed to write to standard output: {e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_become_spaces() {
        let hostile = "a\u{1b}[31mred\u{1b}]0;title\u{7}\rover\0nul\u{9b}csi\u{7f}";
        let shown = safe(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert_eq!(shown, "a [31mred ]0;title  over nul csi ");
    }

    #[test]
    fn invisible_and_direction_characters_are_shown() {
        assert_eq!(safe("a\u{200b}b@x.com"), "a<U+200B>b@x.com");
        assert_eq!(safe("\u{202e}moc.x"), "<U+202E>moc.x");
        assert_eq!(
            safe("\u{feff}x\u{2066}y\u{2028}"),
            "<U+FEFF>x<U+2066>y<U+2028>"
        );
        assert!(is_invisible('\u{ad}'), "soft hyphen is Cf");
        assert!(!is_invisible('é'));
    }

    #[test]
    fn clean_text_is_borrowed_and_lines_can_be_kept() {
        assert!(matches!(safe("ann@example.com ünïcode"), Cow::Borrowed(_)));
        assert_eq!(safe_lines("one\ntwo\r\u{1b}"), "one\ntwo  ");
        assert_eq!(safe("one\ntwo"), "one two");
    }
}
