//! Character encodings of the input: byte order mark sniffing, `--encoding` labels, and a
//! streaming transcoder to UTF-8 for everything that is not UTF-8 already.
//!
//! UTF-8 input (the default, with or without a BOM) is read as it is, with no transcoding and
//! no extra copy: the CSV reader checks each field's UTF-8 itself. Any other encoding, named
//! with `--encoding` or announced by a UTF-16 BOM, goes through [`encoding_rs_io`], which
//! decodes in fixed-size chunks, so that memory does not grow with the file.
//!
//! Labels are the WHATWG Encoding Standard's (`windows-1252`, `latin1`, `utf-16le`, ...), as
//! [`encoding_rs::Encoding::for_label`] knows them. Note that the standard maps `latin1` and
//! `iso-8859-1` to windows-1252, its superset, which is also what Excel writes.

use std::io::{BufReader, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use encoding_rs_io::DecodeReaderBytesBuilder;

/// A few labels people use, for messages.
pub const COMMON_LABELS: &str = "windows-1252 (alias latin1, cp1252), utf-16 (utf-16le), utf-16be, \
                                 utf-8, iso-8859-15, shift_jis, gbk";

/// Parses an `--encoding` label (case-insensitive, surrounding blanks ignored).
pub fn parse_label(text: &str) -> Result<&'static Encoding, String> {
    let label = text.trim();
    // `utf16` without the dash is common enough in spreadsheets' menus to accept.
    let label = match label.to_ascii_lowercase().as_str() {
        "utf16" => "utf-16",
        "utf16le" => "utf-16le",
        "utf16be" => "utf-16be",
        "utf8" => "utf-8",
        _ => label,
    };
    match Encoding::for_label(label.as_bytes()) {
        // The "replacement" encoding stands for labels of encodings that are unsafe to decode
        // (ISO-2022-KR and the like); it would turn the whole file into one U+FFFD.
        Some(encoding) if encoding != encoding_rs::REPLACEMENT => Ok(encoding),
        _ => Err(format!(
            "unknown encoding {text:?}: expected a label such as {COMMON_LABELS}"
        )),
    }
}

/// The encoding a byte order mark at the start of `bytes` announces, if any.
pub(super) fn sniff_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        Some(UTF_8)
    } else if bytes.starts_with(b"\xFF\xFE") {
        Some(UTF_16LE)
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The encoding the input is read with: a BOM wins over `--encoding` (it cannot be wrong about
/// UTF-8 or UTF-16, and a label is easily copied from an older command), then the label, then
/// UTF-8.
pub(super) fn choose(
    bom: Option<&'static Encoding>,
    given: Option<&'static Encoding>,
) -> &'static Encoding {
    bom.or(given).unwrap_or(UTF_8)
}

/// Size of the transcoder's buffer: as large as the CSV reader's, so that one decoding call
/// feeds one CSV buffer.
const DECODE_BUFFER: usize = 64 * 1024;

/// Wraps `input` in a transcoder from `encoding` to UTF-8 that drops a leading BOM.
pub(super) fn decoder<R: Read>(input: R, encoding: &'static Encoding) -> BufReader<impl Read> {
    let decoder = DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .bom_override(true)
        .strip_bom(true)
        .build_with_buffer(input, vec![0; DECODE_BUFFER])
        .expect("the buffer is larger than 4 bytes");
    BufReader::with_capacity(DECODE_BUFFER, decoder)
}

/// Whether the header line looks like UTF-16 read as bytes: NUL bytes between ASCII letters.
pub(super) fn looks_like_utf16(header: &[u8]) -> bool {
    header.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_whatwg_with_a_few_spreadsheet_spellings() {
        assert_eq!(parse_label("windows-1252"), Ok(encoding_rs::WINDOWS_1252));
        assert_eq!(parse_label(" Latin1 "), Ok(encoding_rs::WINDOWS_1252));
        assert_eq!(parse_label("cp1252"), Ok(encoding_rs::WINDOWS_1252));
        assert_eq!(parse_label("utf-16"), Ok(UTF_16LE));
        assert_eq!(parse_label("UTF16BE"), Ok(UTF_16BE));
        assert_eq!(parse_label("utf8"), Ok(UTF_8));
        let err = parse_label("klingon").unwrap_err();
        assert!(err.contains("windows-1252"), "{err}");
        assert!(parse_label("iso-2022-kr").is_err());
    }

    #[test]
    fn a_bom_wins_over_the_label() {
        assert_eq!(sniff_bom(b"\xFF\xFEe\0"), Some(UTF_16LE));
        assert_eq!(sniff_bom(b"\xFE\xFF\0e"), Some(UTF_16BE));
        assert_eq!(sniff_bom(b"\xEF\xBB\xBFe"), Some(UTF_8));
        assert_eq!(sniff_bom(b"email"), None);
        assert_eq!(
            choose(Some(UTF_16LE), Some(encoding_rs::WINDOWS_1252)),
            UTF_16LE
        );
        assert_eq!(
            choose(None, Some(encoding_rs::WINDOWS_1252)),
            encoding_rs::WINDOWS_1252
        );
        assert_eq!(choose(None, None), UTF_8);
    }

    #[test]
    fn the_decoder_turns_windows_1252_and_utf_16_into_utf_8() {
        let mut text = String::new();
        decoder(&b"Ren\xe9;Zo\xeb\r\n"[..], encoding_rs::WINDOWS_1252)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "René;Zoë\r\n");

        let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
        utf16.extend("é,x\n".encode_utf16().flat_map(u16::to_le_bytes));
        let mut text = String::new();
        decoder(&utf16[..], UTF_16LE)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "é,x\n");
    }
}
