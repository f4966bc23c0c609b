//! Reports as HTML, for a person to look at: a self-contained page (inline CSS and SVG; no
//! script, no font, no image or link outside the page, so it works offline and from a file), with
//! each op's verdict, why it lost its points, its text report, and for each wrong gradient a heat
//! map of expected against got in the smallest failing case ([`heatmap`]).
//!
//! Everything a program or a student chose (a name, an exception's message, standard error) is
//! escaped ([`escape`]) before it reaches the page.

pub mod heatmap;

use super::score::{OpScore, Outcome, Scorecard};
use super::{Finding, Report, unsigned};

/// Looks a diagnosis code's long explanation up (what `gradverify explain CODE` prints).
pub type Explain = fn(&str) -> Option<&'static str>;

/// The page's style: tables, the outcome colours and the heat maps' text.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.7em; overflow-x: auto; white-space: pre-wrap; }
.pass { background: #d9f2d9; } .fail { background: #f8d0d0; } .inconclusive { background: #fbeac0; }
.not_implemented, .not_run { background: #e4e4e4; }
.outcome { padding: 0.1em 0.5em; border-radius: 0.3em; font-weight: 600; }
.heatmap { display: block; margin: 0.4em 0 1em; }
.heatmap text { font-size: 12px; fill: #333; }
.bar { fill: #4c78a8; } .histogram text { font-size: 12px; fill: #333; }
code { background: #f0f0f0; padding: 0 0.25em; }
";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for an element's text or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (escaped here) and `body` (HTML already).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

/// An outcome as a coloured label.
pub fn outcome_label(outcome: Outcome) -> String {
    format!(r#"<span class="outcome {0}">{0}</span>"#, outcome.name())
}

/// One program's page body: its score, a table of its ops, then a section per op.
pub fn program(card: &Scorecard, reports: &[Report], explain: Explain) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(&card.name),
        escape(&card.summary())
    );
    if let Some(fault) = &card.fault {
        body.push_str(&format!("<p><strong>{}</strong></p>\n", escape(fault)));
    }
    body.push_str("<table>\n<tr><th>op</th><th>outcome</th><th>points</th><th>why</th></tr>\n");
    for op in &card.ops {
        body.push_str(&format!(
            "<tr><td><a href=\"#op-{0}\">{0}</a></td><td class=\"{1}\">{1}</td><td class=\"num\">{2} / {3}</td><td>{4}</td></tr>\n",
            escape(&op.op),
            op.outcome.name(),
            op.score,
            op.max_score,
            escape(op.reason.as_deref().unwrap_or_default()),
        ));
    }
    body.push_str("</table>\n");
    for op in &card.ops {
        let report = reports.iter().find(|r| r.op == op.op);
        body.push_str(&op_section(op, report, explain));
    }
    if !card.output.is_empty() {
        body.push_str(&format!(
            "<h2>Summary</h2>\n<pre>{}</pre>\n",
            escape(&card.output)
        ));
    }
    body
}

/// One op: its outcome, what its codes mean, a heat map per wrong gradient, its text report.
fn op_section(op: &OpScore, report: Option<&Report>, explain: Explain) -> String {
    let mut section = format!(
        "<h2 id=\"op-{0}\">{0} {1}</h2>\n",
        escape(&op.op),
        outcome_label(op.outcome)
    );
    for code in &op.codes {
        section.push_str(&code_explained(code, explain));
    }
    for finding in report.iter().flat_map(|r| &r.findings) {
        section.push_str(&pictured(finding));
    }
    section.push_str(&format!("<pre>{}</pre>\n", escape(&op.text)));
    section
}

/// A code with the first line of its explanation, the rest folded away.
pub fn code_explained(code: &str, explain: Explain) -> String {
    let text = explain(code).unwrap_or("(no explanation)");
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    // An explanation's first line names its code, which the summary shows already.
    let first = first.strip_prefix(&format!("{code}: ")).unwrap_or(first);
    format!(
        "<details><summary><code>{}</code>: {}</summary><pre>{}</pre></details>\n",
        escape(code),
        escape(first),
        escape(rest.trim())
    )
}

/// A wrong gradient's heat map in its smallest failing case, or its worst elements where the
/// whole gradient was not kept; nothing for a finding without values.
fn pictured(finding: &Finding) -> String {
    let label = finding.what.label();
    if let Some(values) = &finding.values {
        return format!(
            "<h3>{} at {}: expected against got</h3>\n{}\n",
            escape(&label),
            escape(&finding.smallest_shape),
            heatmap::heat_map(&label, values)
        );
    }
    if finding.worst.is_empty() {
        return String::new();
    }
    let mut table = format!(
        "<h3>{} at {}: the worst elements</h3>\n<table>\n<tr><th>index</th><th>expected</th><th>got</th></tr>\n",
        escape(&label),
        escape(&finding.smallest_shape)
    );
    for e in &finding.worst {
        table.push_str(&format!(
            "<tr><td>{:?}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            e.index,
            unsigned(e.expected),
            unsigned(e.actual)
        ));
    }
    table.push_str("</table>\n");
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_zero_prints_as_zero_in_the_worst_elements() {
        // A relu backward that returns -0.0 everywhere, its finding without the whole gradient
        // (as for one larger than 32×32): the table of worst elements.
        let mut report = crate::check::relu(|g, _| g.mapv(|_| -0.0));
        let finding = &mut report.findings[0];
        finding.values = None;
        assert!(
            finding.worst.iter().any(|e| e.actual.is_sign_negative()),
            "{:?}",
            finding.worst
        );
        let table = pictured(finding);
        assert!(table.contains("<td class=\"num\">0</td>"), "{table}");
        assert!(!table.contains(">-0<"), "{table}");
    }

    #[test]
    fn what_a_student_wrote_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let page = page("a <b>", "<p>body</p>");
        assert!(page.contains("<title>a &lt;b&gt;</title>") && page.contains("<p>body</p>"));
        assert!(!page.contains("<script") && !page.contains("http"), "{page}");
    }
}
