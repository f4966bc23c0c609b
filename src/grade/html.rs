//! The class at a glance, as static pages (`grade --html DIR`): `DIR/index.html` with the
//! distribution of scores (an SVG histogram), a table per op of its outcomes and its most common
//! diagnosis codes with what each means (to know what to go over in the next lecture), and the
//! submissions with links to `DIR/submissions/*.html`, a page each with its report and, for each
//! wrong gradient, a heat map of expected against got ([`crate::verify::report::html`]).
//!
//! The histogram's bars are the scores a submission can reach (every sum of some ops' points)
//! when there are at most [`MAX_EXACT_BARS`] of them, else ten bands of the maximum score;
//! each bar carries its count (`data-count`), so that the bars add up to the class.

use std::collections::HashMap;
use std::path::Path;

use super::{Graded, files};
use crate::error::Result;
use crate::verify::explain;
use crate::verify::report::html::{self, escape};
use crate::verify::report::score::Outcome;

/// The most bars drawn one per reachable score.
const MAX_EXACT_BARS: usize = 30;
/// How many codes an op's row lists.
const TOP_CODES: usize = 3;
/// The histogram's plot height and widest bar, in pixels.
const PLOT_HEIGHT: f64 = 160.0;
const BAR_WIDTH: f64 = 44.0;

/// The outcomes in the order the tables show them.
const OUTCOMES: [Outcome; 5] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::Inconclusive,
    Outcome::NotImplemented,
    Outcome::NotRun,
];

/// Writes `dir/index.html` and a page per submission in `dir/submissions/`.
pub fn write(dir: &Path, graded: &[Graded], ops: &[&str]) -> Result<()> {
    files::check_folder(dir)?;
    let pages = files::real_folder(dir, "submissions")?;
    let names: Vec<String> = (graded.iter().enumerate())
        .map(|(i, g)| page_name(i, &g.card.name))
        .collect();
    for (g, name) in graded.iter().zip(&names) {
        let body = format!(
            "<p><a href=\"../index.html\">the class</a></p>\n{}",
            html::program(&g.card, &g.reports, explain::explanation)
        );
        let page = html::page(&format!("{}: gradverify", g.card.name), &body);
        files::write_fresh(&pages.join(name), page.as_bytes())?;
    }
    let index = html::page("gradverify: the class", &class(graded, ops, &names));
    files::write_fresh(&dir.join("index.html"), index.as_bytes())
}

/// The file of the `i`-th submission's page: its number (names may collide once cleaned) and
/// its name with anything but letters, digits, `-` and `_` made `_`.
fn page_name(i: usize, name: &str) -> String {
    let clean: String = (name.chars().take(60))
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:03}-{clean}.html", i + 1)
}

/// The index page's body.
fn class(graded: &[Graded], ops: &[&str], pages: &[String]) -> String {
    let mean = graded.iter().map(|g| g.card.score()).sum::<f64>() / graded.len().max(1) as f64;
    let max = graded.first().map_or(0.0, |g| g.card.max_score());
    let mut body = format!(
        "<h1>The class</h1>\n<p>{} submission{}, mean score {mean:.2} of {max}.</p>\n",
        graded.len(),
        if graded.len() == 1 { "" } else { "s" }
    );
    body.push_str("<h2>Scores</h2>\n");
    body.push_str(&histogram(&bins(graded)));
    body.push_str(&outcomes_table(graded, ops));
    body.push_str(&common_codes(graded, ops));
    body.push_str(&submissions_table(graded, ops, pages));
    body
}

/// One bar of the histogram.
#[derive(Debug, Clone, PartialEq)]
struct Bin {
    label: String,
    count: usize,
}

/// The histogram's bars: one per reachable score where there are few, else ten bands.
fn bins(graded: &[Graded]) -> Vec<Bin> {
    let points: Vec<f64> = graded
        .first()
        .map(|g| g.card.ops.iter().map(|o| o.max_score).collect())
        .unwrap_or_default();
    let scores: Vec<f64> = graded.iter().map(|g| g.card.score()).collect();
    if let Some(reachable) = reachable_scores(&points) {
        return reachable
            .iter()
            .map(|&r| Bin {
                label: format!("{r}"),
                count: scores.iter().filter(|&&s| (s - r).abs() < 1e-9).count(),
            })
            .collect();
    }
    let max: f64 = points.iter().sum();
    (0..10)
        .map(|band| Bin {
            label: format!("{}–{} %", band * 10, band * 10 + 10),
            count: scores
                .iter()
                .filter(|&&s| {
                    let percent = if max > 0.0 { 100.0 * s / max } else { 0.0 };
                    (percent / 10.0).floor().clamp(0.0, 9.0) as usize == band
                })
                .count(),
        })
        .collect()
}

/// Every sum of some of `points`, in order, or `None` when there are more than
/// [`MAX_EXACT_BARS`].
fn reachable_scores(points: &[f64]) -> Option<Vec<f64>> {
    let mut sums = vec![0.0_f64];
    for &p in points {
        let more: Vec<f64> = sums.iter().map(|s| s + p).collect();
        for s in more {
            if !sums.iter().any(|&t| (t - s).abs() < 1e-9) {
                sums.push(s);
            }
        }
        if sums.len() > MAX_EXACT_BARS {
            return None;
        }
    }
    sums.sort_by(f64::total_cmp);
    Some(sums)
}

/// The bars as SVG: a count above each, its score below.
fn histogram(bins: &[Bin]) -> String {
    let tallest = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let slot = BAR_WIDTH + 8.0;
    let width = slot * bins.len() as f64 + 40.0;
    let height = PLOT_HEIGHT + 60.0;
    let mut svg = format!(
        r#"<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="how many submissions reached each score">"#
    );
    for (i, bin) in bins.iter().enumerate() {
        let x = 20.0 + i as f64 * slot;
        let h = PLOT_HEIGHT * bin.count as f64 / tallest;
        let top = 20.0 + PLOT_HEIGHT - h;
        let centre = x + BAR_WIDTH / 2.0;
        svg.push_str(&format!(
            r#"<rect class="bar" x="{x}" y="{top:.1}" width="{BAR_WIDTH}" height="{h:.1}" data-count="{count}" data-score="{label}"><title>{count} scored {label}</title></rect><text x="{centre}" y="{:.1}" text-anchor="middle">{count}</text><text x="{centre}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            top - 4.0,
            20.0 + PLOT_HEIGHT + 16.0,
            count = bin.count,
            label = escape(&bin.label),
        ));
    }
    svg.push_str(&format!(
        r#"<line x1="16" y1="{y}" x2="{x2}" y2="{y}" stroke="grey"/><text x="{mid}" y="{:.1}" text-anchor="middle">score</text></svg>"#,
        PLOT_HEIGHT + 56.0,
        y = 20.0 + PLOT_HEIGHT,
        x2 = width - 16.0,
        mid = width / 2.0,
    ));
    svg
}

/// How many submissions had each outcome, per op.
fn outcomes_table(graded: &[Graded], ops: &[&str]) -> String {
    let mut table = String::from("<h2>Ops</h2>\n<table>\n<tr><th>op</th>");
    for outcome in OUTCOMES {
        table.push_str(&format!("<th>{}</th>", outcome.name()));
    }
    table.push_str("<th>most common codes</th></tr>\n");
    for op in ops {
        table.push_str(&format!("<tr><td>{}</td>", escape(op)));
        for outcome in OUTCOMES {
            let n = scores_of(graded, op).filter(|s| s.outcome == outcome).count();
            let class = if n > 0 { outcome.name() } else { "" };
            table.push_str(&format!("<td class=\"num {class}\">{n}</td>"));
        }
        let top: Vec<String> = code_counts(graded, op)
            .iter()
            .take(TOP_CODES)
            .map(|(code, n)| format!("<code>{}</code> × {n}", escape(code)))
            .collect();
        table.push_str(&format!("<td>{}</td></tr>\n", top.join(", ")));
    }
    table.push_str("</table>\n");
    table
}

/// Per op, every code found with how many submissions have it and what it means.
fn common_codes(graded: &[Graded], ops: &[&str]) -> String {
    let mut out = String::from("<h2>What went wrong, per op</h2>\n");
    let mut any = false;
    for op in ops {
        let counts = code_counts(graded, op);
        if counts.is_empty() {
            continue;
        }
        any = true;
        out.push_str(&format!("<h3>{}</h3>\n", escape(op)));
        for (code, n) in counts {
            out.push_str(&format!(
                "<p>{n} submission{}:</p>\n{}",
                if n == 1 { "" } else { "s" },
                html::code_explained(&code, explain::explanation)
            ));
        }
    }
    if !any {
        out.push_str("<p>No diagnosis code in any submission.</p>\n");
    }
    out
}

/// Each submission with its score, its outcome per op and why it lost points.
fn submissions_table(graded: &[Graded], ops: &[&str], pages: &[String]) -> String {
    let mut table = String::from("<h2>Submissions</h2>\n<table>\n<tr><th>submission</th><th>score</th>");
    for op in ops {
        table.push_str(&format!("<th>{}</th>", escape(op)));
    }
    table.push_str("<th>why</th></tr>\n");
    for (g, page) in graded.iter().zip(pages) {
        table.push_str(&format!(
            "<tr><td><a href=\"submissions/{page}\">{}</a></td><td class=\"num\">{} / {}</td>",
            escape(&g.card.name),
            g.card.score(),
            g.card.max_score()
        ));
        for score in &g.card.ops {
            table.push_str(&format!("<td class=\"{0}\">{0}</td>", score.outcome.name()));
        }
        table.push_str(&format!(
            "<td>{}</td></tr>\n",
            escape(&super::output::reason(&g.card))
        ));
    }
    table.push_str("</table>\n");
    table
}

/// `op`'s score in each submission that has one.
fn scores_of<'a>(
    graded: &'a [Graded],
    op: &'a str,
) -> impl Iterator<Item = &'a crate::verify::report::score::OpScore> {
    graded
        .iter()
        .filter_map(move |g| g.card.ops.iter().find(|s| s.op == op))
}

/// `op`'s codes with the number of submissions that have each, most common first (ties by
/// code).
fn code_counts(graded: &[Graded], op: &str) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for score in scores_of(graded, op) {
        for code in &score.codes {
            *counts.entry(code).or_default() += 1;
        }
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().map(|(c, n)| (c.to_owned(), n)).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bars_are_the_reachable_scores_or_ten_bands() {
        assert_eq!(
            reachable_scores(&[1.0, 1.0, 2.0]).unwrap(),
            [0.0, 1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(reachable_scores(&[]).unwrap(), [0.0]);
        let many: Vec<f64> = (0..8).map(|i| f64::from(1 << i)).collect();
        assert_eq!(reachable_scores(&many), None, "256 sums");
        assert_eq!(page_name(0, "a b/../c"), "001-a_b____c.html");
    }

    #[test]
    fn each_bar_says_its_count() {
        let svg = histogram(&[
            Bin {
                label: "0".into(),
                count: 2,
            },
            Bin {
                label: "1".into(),
                count: 0,
            },
            Bin {
                label: "2".into(),
                count: 4,
            },
        ]);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3);
        assert!(
            svg.contains(r#"height="160.0" data-count="4""#),
            "the tallest is full: {svg}"
        );
        assert!(svg.contains(r#"height="80.0" data-count="2""#), "{svg}");
        assert!(svg.contains(r#"height="0.0" data-count="0""#), "{svg}");
    }
}
