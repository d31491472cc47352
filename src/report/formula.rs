//! Spreadsheet formula injection: a CSV cell that starts with `=`, `+`, `-` or `@` is read as a
//! formula by Excel, LibreOffice and Google Sheets, and a leading TAB or CR can hide such a
//! start from a first glance while some importers strip it and evaluate the rest. Emails, error
//! details and CSV paths all come from outside (the roster, Atlas), so every CSV this tool writes
//! passes its cells through [`neutralise`].
//!
//! See: <https://owasp.org/www-community/attacks/CSV_Injection>

use std::borrow::Cow;

/// The characters that make a spreadsheet treat a cell as a formula (or hide one).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// True when a spreadsheet could evaluate `cell` as a formula.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(FORMULA_STARTS)
}

/// `cell` with a leading `'` when it starts like a formula, unchanged otherwise. The apostrophe
/// is what spreadsheets themselves use to mark "text, not a formula"; it shows in the cell, which
/// is the price of never running what someone typed into an HR export.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if is_formula_like(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_get_an_apostrophe() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        assert_eq!(neutralise("+33 1 23"), "'+33 1 23");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\t=cmd"), "'\t=cmd");
        assert_eq!(neutralise("\r=cmd"), "'\r=cmd");
    }

    #[test]
    fn ordinary_cells_are_unchanged_and_borrowed() {
        for cell in [
            "ann@example.com",
            "",
            "ORG_MEMBER",
            "a=b",
            " =1",
            "'quoted",
            "42",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }
}
