//! The report as HTML, for a notebook (`Report._repr_html_`: Jupyter shows it in place of the
//! repr): the verdict line on its outcome's colour, then a table with a row per finding (the
//! gradient or the call, the problem, in how many cases, the smallest shape, the diagnosis) and
//! per inconclusive gradient, each on its outcome's colour; under a wrong gradient its worst
//! elements, highlighted, and the heat maps of expected, got and got − expected in the smallest
//! failing case (the root crate's, as `grade --html` draws them); the notes last.
//!
//! Inline styles only (a notebook may drop a `<style>` element), no script; everything from the
//! student (the function's name, an exception's message) is escaped.

use gradverify::compare::{Element, Verdict};
use gradverify::verify::report::html::{escape, heatmap::heat_map};
use gradverify::verify::report::text;
use gradverify::verify::{Finding, Problem, Report, Subject};

const PASS: &str = "#d9f2d9";
const FAIL: &str = "#f8d0d0";
const INCONCLUSIVE: &str = "#fbeac0";
/// A wrong element: stronger than a failing row.
const WRONG: &str = "#f2a5a5";
const CELL: &str = "border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top";

/// `report` as an HTML fragment.
pub(crate) fn report(report: &Report) -> String {
    let text = report.to_string();
    let head = text.lines().next().unwrap_or_default();
    let colour = match report.verdict() {
        Verdict::Pass => PASS,
        Verdict::Fail => FAIL,
        Verdict::Inconclusive => INCONCLUSIVE,
    };
    let mut html = format!(
        "<div class=\"gradverify-report\">\n<p style=\"background: {colour}; padding: 0.3em 0.6em\"><strong>{}</strong></p>\n",
        escape(head)
    );
    if !report.findings.is_empty() || !report.inconclusive.is_empty() {
        html.push_str(&format!(
            "<table style=\"border-collapse: collapse\">\n<tr>{}</tr>\n",
            ["what", "problem", "in", "smallest", "diagnosis"]
                .map(|h| format!("<th style=\"{CELL}; background: #f3f3f3\">{h}</th>"))
                .concat()
        ));
        for finding in &report.findings {
            html.push_str(&finding_rows(finding, report.cases));
        }
        for item in &report.inconclusive {
            let cells = [
                Subject::Gradient(item.gradient.clone()).label(),
                format!("inconclusive: {}", item.reason),
                String::new(),
                String::new(),
                format!("try: {}", item.try_next),
            ];
            html.push_str(&row(INCONCLUSIVE, &cells));
        }
        html.push_str("</table>\n");
    }
    for note in &report.notes {
        html.push_str(&format!("<p>note: {}</p>\n", escape(note)));
    }
    html.push_str("</div>");
    html
}

/// A finding's row, then its worst elements and its heat maps.
fn finding_rows(finding: &Finding, cases: usize) -> String {
    let label = finding.what.label();
    let diagnosis = (finding.diagnosis.as_ref())
        .map(|d| format!("[{}] {d}", d.codes().join(", ")))
        .unwrap_or_default();
    let cells = [
        label.clone(),
        problem(finding, cases),
        format!("{} of {cases} cases", finding.failed),
        finding.smallest_shape.clone(),
        diagnosis,
    ];
    let mut rows = row(FAIL, &cells);
    if finding.worst.is_empty() && finding.values.is_none() {
        return rows;
    }
    rows.push_str(&format!("<tr><td colspan=\"5\" style=\"{CELL}\">"));
    if !finding.worst.is_empty() {
        rows.push_str(&worst(&finding.worst));
    }
    if let Some(values) = &finding.values {
        rows.push_str(&heat_map(&label, values));
    }
    rows.push_str("</td></tr>\n");
    rows
}

/// What is wrong, as the text report says it: a fault whole (an exception with its traceback,
/// its lines no longer indented to sit inside the text report), else the first line of the
/// finding without its label.
fn problem(finding: &Finding, cases: usize) -> String {
    if let Problem::Fault(fault) = &finding.problem {
        return dedented(&fault.to_string());
    }
    let text = text::finding(finding, cases);
    let first = text.lines().next().unwrap_or_default().trim_start();
    let label = format!("{}: ", finding.what.label());
    first.strip_prefix(&label).unwrap_or(first).to_owned()
}

/// `text` with the indentation its lines after the first share taken off.
fn dedented(text: &str) -> String {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let indent = |line: &str| line.len() - line.trim_start().len();
    let common = rest
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(indent)
        .min()
        .unwrap_or(0);
    let lines = rest
        .lines()
        .map(|line| line.get(common..).unwrap_or(line.trim_start()));
    std::iter::once(first).chain(lines).collect::<Vec<_>>().join("\n")
}

/// The worst elements in the smallest failing case, each row highlighted.
fn worst(elements: &[Element]) -> String {
    let mut table = format!(
        "<table style=\"border-collapse: collapse; margin: 0.3em 0\">\n<tr>{}</tr>\n",
        ["element", "expected", "got", "got − expected"]
            .map(|h| format!("<th style=\"{CELL}\">{h}</th>"))
            .concat()
    );
    for e in elements {
        let cells = [
            format!("{:?}", e.index),
            number(e.expected),
            number(e.actual),
            number(e.actual - e.expected),
        ];
        table.push_str(&row(WRONG, &cells));
    }
    table.push_str("</table>\n");
    table
}

/// A table row of escaped cells on `colour`; a cell of several lines keeps them.
fn row(colour: &str, cells: &[String]) -> String {
    let cells: String = cells
        .iter()
        .map(|c| format!("<td style=\"{CELL}; white-space: pre-wrap\">{}</td>", escape(c)))
        .collect();
    format!("<tr style=\"background: {colour}\">{cells}</tr>\n")
}

/// A number as the text report prints it, and 0 as 0.
fn number(value: f64) -> String {
    if value == 0.0 {
        "0".to_owned()
    } else {
        format!("{value:.6}")
    }
}
