//! JSON Lines framing with a bound: one line at a time, as bytes, never more than a cap in memory.
//!
//! A line is the bytes up to a `\n` (an unterminated last line counts too). [`LineReader`] keeps
//! at most `cap` bytes of a line: past them it reads on to the end of the line, counting and
//! dropping the rest, so a 500 MB line costs `cap` bytes of memory, not 500 MB. What is kept is
//! decoded lossily (an invalid byte becomes U+FFFD), so a Latin-1 byte is never a reason to stop.

use std::io::{self, BufRead};

/// `text` safe to show on a terminal, in a file or a spreadsheet: every control character but the
/// tab (ESC, NUL, BEL, a carriage return) and every bidirectional override written as an escape,
/// `\x1b` or `\u{202e}`, so that what a program wrote can neither move the cursor, recolour or
/// clear a terminal, nor reorder what a reader sees.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        match c {
            '\t' => out.push(c),
            c if (c as u32) < 0x100 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || bidi => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// One line, decoded lossily, without its `\n` (and without a `\r` before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The first bytes of the line (all of it unless `cut`).
    pub text: String,
    /// The line's length in bytes, counting what was dropped.
    pub len: u64,
    /// True when the line was longer than the cap and only its head was kept.
    pub cut: bool,
}

/// Reads lines of at most `cap` kept bytes each.
pub struct LineReader<R> {
    input: R,
    cap: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader that keeps at most `cap` bytes of each line.
    pub fn new(input: R, cap: usize) -> LineReader<R> {
        LineReader { input, cap }
    }

    /// The next line, `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut kept = Vec::new();
        let mut len: u64 = 0;
        let mut seen_any = false;
        loop {
            let buffer = match self.input.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buffer.is_empty() {
                break;
            }
            seen_any = true;
            let (chunk, ends) = match buffer.iter().position(|&b| b == b'\n') {
                Some(end) => (&buffer[..end], true),
                None => (buffer, false),
            };
            let room = self.cap.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            len += chunk.len() as u64;
            let used = chunk.len() + usize::from(ends);
            self.input.consume(used);
            if ends {
                break;
            }
        }
        if !seen_any {
            return Ok(None);
        }
        if kept.len() as u64 == len && kept.last() == Some(&b'\r') {
            kept.pop();
            len -= 1;
        }
        let cut = len > kept.len() as u64;
        let text = match String::from_utf8(kept) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Some(Line { text, len, cut }))
    }
}

impl<R: BufRead> Iterator for LineReader<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<io::Result<Line>> {
        self.next_line().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped_and_text_kept() {
        assert_eq!(
            printable("red \u{1b}[31mX\u{7}\0\r é\t\u{202e}"),
            "red \\x1b[31mX\\x07\\x00\\x0d é\t\\u{202e}"
        );
        assert_eq!(
            printable("Traceback (most recent call last):"),
            "Traceback (most recent call last):"
        );
    }

    fn lines(input: &[u8], cap: usize) -> Vec<Line> {
        LineReader::new(input, cap)
            .collect::<io::Result<Vec<_>>>()
            .expect("reading a slice cannot fail")
    }

    #[test]
    fn splits_on_newlines_and_keeps_an_unterminated_last_line() {
        let got = lines(b"a\r\nbc\n\nd", 10);
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["a", "bc", "", "d"]);
        assert!(got.iter().all(|l| !l.cut));
    }

    #[test]
    fn a_line_past_the_cap_keeps_its_head_and_counts_every_byte() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nnext\n");
        // A small buffer, so the long line spans many reads.
        let reader = io::BufReader::with_capacity(7, input.as_slice());
        let got: Vec<Line> = LineReader::new(reader, 10).map(|l| l.unwrap()).collect();
        assert_eq!(got[0].text, "xxxxxxxxxx");
        assert_eq!(got[0].len, 1000);
        assert!(got[0].cut);
        assert_eq!(
            got[1],
            Line {
                text: "next".into(),
                len: 4,
                cut: false
            }
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_an_error() {
        let got = lines(b"caf\xe9 ok\n\xff\n", 100);
        assert_eq!(got[0].text, "caf\u{fffd} ok");
        assert!(!got[0].cut, "{got:?}");
        assert_eq!(got[1].text, "\u{fffd}");
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(lines(b"", 10).is_empty());
    }
}
