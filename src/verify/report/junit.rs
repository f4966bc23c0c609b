//! [`Scorecard`]s as JUnit XML, the test-report format GitHub and GitLab CI read: one
//! `<testsuite>` per program (or submission), one `<testcase>` per op, its score and points as
//! the suite's `<properties>`.
//!
//! An op that passes is a bare `<testcase>`. One that does not pass is a `<failure>` whose
//! `type` says why — `fail`, `not_implemented` or `inconclusive` (all three score 0, so none is
//! a `<skipped>`, which CI would count as harmless) — with its reason in `message` and its
//! text report as the element's text. An op that was not run at all (the program could not start,
//! its time ran out) is an `<error type="not_run">`. Text is escaped for XML 1.0: the five
//! markup characters as entities, newlines in attributes as `&#10;` (and `\r` anywhere as `&#13;`), and the control characters
//! XML cannot hold at all replaced by U+FFFD.

use std::fmt::Write;

use super::score::{Outcome, Scorecard};

/// A JUnit XML document with a suite for each card.
pub fn document(cards: &[Scorecard]) -> String {
    let count = |outcome: fn(Outcome) -> bool| {
        cards
            .iter()
            .flat_map(|c| &c.ops)
            .filter(|o| outcome(o.outcome))
            .count()
    };
    let tests = count(|_| true);
    let failures = count(|o| !matches!(o, Outcome::Pass | Outcome::NotRun));
    let errors = count(|o| o == Outcome::NotRun);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"gradverify\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">"
    );
    for card in cards {
        suite(&mut xml, card);
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// One card's `<testsuite>`.
fn suite(xml: &mut String, card: &Scorecard) {
    let name = escape(&card.name);
    let failures = card
        .ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Pass | Outcome::NotRun))
        .count();
    let errors = card.ops.iter().filter(|o| o.outcome == Outcome::NotRun).count();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">",
        card.ops.len()
    );
    let _ = writeln!(
        xml,
        "    <properties>\n      <property name=\"score\" value=\"{}\"/>\n      <property name=\"max_score\" value=\"{}\"/>\n    </properties>",
        card.score(),
        card.max_score()
    );
    for op in &card.ops {
        let case = format!("    <testcase classname=\"{name}\" name=\"{}\"", escape(&op.op));
        let element = match op.outcome {
            Outcome::Pass => {
                let _ = writeln!(xml, "{case}/>");
                continue;
            }
            Outcome::NotRun => "error",
            Outcome::Fail | Outcome::NotImplemented | Outcome::Inconclusive => "failure",
        };
        let _ = writeln!(
            xml,
            "{case}>\n      <{element} message=\"{}\" type=\"{}\">{}</{element}>\n    </testcase>",
            escape(op.reason.as_deref().unwrap_or_default()),
            op.outcome,
            escape_text(&op.text)
        );
    }
    if !card.output.is_empty() {
        let _ = writeln!(xml, "    <system-out>{}</system-out>", escape_text(&card.output));
    }
    xml.push_str("  </testsuite>\n");
}

/// `text` escaped for an XML attribute.
fn escape(text: &str) -> String {
    escape_as(text, true)
}

/// `text` escaped for an XML element's text, where newlines stay as they are.
fn escape_text(text: &str) -> String {
    escape_as(text, false)
}

/// `text` escaped for XML; newlines as character references in an attribute (where parsers would
/// turn them into spaces).
fn escape_as(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::Report;
    use crate::verify::report::score::{OpScore, Points};

    #[test]
    fn markup_quotes_newlines_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\n\u{1b}[31m"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;\u{FFFD}[31m"
        );
        assert_eq!(escape_text("<a>\nb\r"), "&lt;a&gt;\nb&#13;");
    }

    #[test]
    fn a_suite_per_card_and_a_failure_or_error_per_op_that_does_not_pass() {
        let points = Points::default();
        let unsupported = Report {
            implemented: false,
            ..Report::new("s", "relu", 5)
        };
        let card = Scorecard {
            name: "alice <a&b>".to_owned(),
            ops: vec![
                OpScore::of(&Report::new("s", "linear", 5), "linear", &points),
                OpScore::of(&unsupported, "relu", &points),
                OpScore::not_run("mlp", &points, "could not start"),
            ],
            fault: None,
            output: String::new(),
        };
        let xml = document(&[card]);
        assert!(xml.contains("<testsuites name=\"gradverify\" tests=\"3\" failures=\"1\" errors=\"1\""));
        assert!(xml.contains("<testsuite name=\"alice &lt;a&amp;b&gt;\" tests=\"3\""));
        assert!(xml.contains("name=\"linear\"/>"));
        assert!(xml.contains("<failure message=\"not implemented (the program answered &quot;unsupported op&quot;)\" type=\"not_implemented\">"));
        assert!(xml.contains("<error message=\"could not start\" type=\"not_run\">"));
        assert!(xml.contains("<property name=\"score\" value=\"1\"/>"));
    }
}
