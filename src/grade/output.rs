//! A class's grades written out: a table for the terminal; a CSV with one row per submission
//! (`submission, score, max_score`, the outcome of each op, the codes as `op:code`, the
//! reason); JUnit XML with a testsuite per submission; and, per submission, a folder with its
//! text report (`report.txt`), its reports as JSON with its scores (`report.json`), and what each
//! autograder reads: Gradescope's `results.json`, PrairieLearn's (as `prairielearn.json`, to be
//! copied to `/grade/results/results.json`), Autolab's output (`autolab.txt`, its last line the
//! scores) and JUnit XML (`junit.xml`, for CodeGrade's `$CG_JUNIT_XML_LOCATION` or a CI).

use std::path::Path;

use serde_json::json;

use super::{Graded, files};
use crate::error::{Error, Result};
use crate::verify::Report;
use crate::verify::report::score::{Outcome, Scorecard};
use crate::verify::report::{autolab, gradescope, junit, prairielearn};

/// How many characters of the reason the table shows.
const TABLE_REASON_CHARS: usize = 100;

/// Why a submission lost points, in one line: its fault, then each op that neither passed nor
/// was left out by that fault, as `op: reason`.
pub fn reason(card: &Scorecard) -> String {
    let ops = card
        .ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Pass | Outcome::NotRun))
        .map(|o| format!("{}: {}", o.op, o.reason.as_deref().unwrap_or_default()));
    card.fault
        .clone()
        .into_iter()
        .chain(ops)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The codes of every op, as `op:code` separated by spaces.
pub fn codes(card: &Scorecard) -> String {
    card.ops
        .iter()
        .flat_map(|o| o.codes.iter().map(move |c| format!("{}:{c}", o.op)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table for the terminal: a row per submission with its score, each op's outcome and the
/// reason (cut at [`TABLE_REASON_CHARS`] characters).
pub fn table(graded: &[Graded], ops: &[&str]) -> String {
    let width = graded
        .iter()
        .map(|g| g.card.name.chars().count())
        .chain(["submission".len()])
        .max()
        .unwrap_or_default();
    // Each op's column is as wide as its name, and at least as wide as `not_implemented`.
    let columns: Vec<usize> = ops.iter().map(|op| op.chars().count().max(15)).collect();
    let mut out = format!("{:<width$}  {:>9}", "submission", "score");
    for (op, column) in ops.iter().zip(&columns) {
        out.push_str(&format!("  {op:<column$}"));
    }
    out.push_str("  reason\n");
    for g in graded {
        let score = format!("{}/{}", g.card.score(), g.card.max_score());
        let ops: String = (g.card.ops.iter().zip(&columns))
            .map(|(o, column)| format!("  {:<column$}", o.outcome.name()))
            .collect();
        let reason = reason(&g.card);
        let mut cut: String = reason.chars().take(TABLE_REASON_CHARS).collect();
        if reason.chars().count() > TABLE_REASON_CHARS {
            cut.push('…');
        }
        let row = format!("{:<width$}  {score:>9}{ops}  {cut}", g.card.name);
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// The CSV: a header, then one row per submission.
pub fn csv(graded: &[Graded], ops: &[&str]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["submission", "score", "max_score"];
    header.extend(ops);
    header.extend(["codes", "reason"]);
    let failed = |e: csv::Error| Error::Output {
        path: "the CSV".into(),
        message: e.to_string(),
    };
    writer.write_record(&header).map_err(failed)?;
    for g in graded {
        let card = &g.card;
        let mut row = vec![
            spreadsheet_safe(&card.name),
            card.score().to_string(),
            card.max_score().to_string(),
        ];
        row.extend(card.ops.iter().map(|o| o.outcome.name().to_owned()));
        row.extend([codes(card), spreadsheet_safe(&reason(card))]);
        writer.write_record(&row).map_err(failed)?;
    }
    writer.into_inner().map_err(|e| failed(e.into_error().into()))
}

/// A cell a spreadsheet shows as text: one that starts like a formula (`=`, `+`, `-`, `@`, a tab
/// or a carriage return) gets a leading `'`, as OWASP's advice on CSV injection has it.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The JUnit XML: a testsuite per submission.
pub fn junit(graded: &[Graded]) -> String {
    let cards: Vec<Scorecard> = graded.iter().map(|g| g.card.clone()).collect();
    junit::document(&cards)
}

/// Writes `text` to `path` (fresh, replacing a planted link: [`super::files::write_fresh`]), or
/// says which file could not be written.
pub fn write(path: &Path, text: &[u8]) -> Result<()> {
    files::write_fresh(path, text)
}

/// Writes each submission's `report.txt`, `report.json`, `results.json`, `prairielearn.json`,
/// `autolab.txt` and `junit.xml` to `dir/NAME/`.
pub fn write_reports(dir: &Path, graded: &[Graded]) -> Result<()> {
    for g in graded {
        let folder = files::real_folder(dir, &g.card.name)?;
        write(&folder.join("report.txt"), text(g).as_bytes())?;
        let json = json!({
            "submission": g.card.name,
            "score": g.card.score(),
            "max_score": g.card.max_score(),
            "fault": g.card.fault,
            "seconds": g.seconds,
            "ops": g.card.ops,
            "reports": g.reports.iter().map(Report::to_json).collect::<Vec<_>>(),
        });
        write(&folder.join("report.json"), format!("{json:#}\n").as_bytes())?;
        let results = gradescope::results(&g.card);
        write(&folder.join("results.json"), format!("{results:#}\n").as_bytes())?;
        let results = prairielearn::results(&g.card);
        write(
            &folder.join("prairielearn.json"),
            format!("{results:#}\n").as_bytes(),
        )?;
        let autolab = format!("{}{}\n", text(g), autolab::last_line(&g.card));
        write(&folder.join("autolab.txt"), autolab.as_bytes())?;
        write(
            &folder.join("junit.xml"),
            junit::document(std::slice::from_ref(&g.card)).as_bytes(),
        )?;
    }
    Ok(())
}

/// A submission's text report: each op's report, then the summary and what went wrong.
fn text(g: &Graded) -> String {
    let mut text: String = g.card.ops.iter().map(|o| format!("{}\n", o.text)).collect();
    text.push_str(&g.card.output);
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::score::{OpScore, Points};

    fn graded(name: &str, fault: Option<&str>) -> Graded {
        let points: Points = "linear=2".parse().unwrap();
        let unsupported = Report {
            implemented: false,
            ..Report::new("cmd", "relu", 3)
        };
        let ops = match fault {
            None => vec![
                OpScore::of(&Report::new("cmd", "linear", 3), "linear", &points),
                OpScore::of(&unsupported, "relu", &points),
            ],
            Some(why) => vec![
                OpScore::not_run("linear", &points, why),
                OpScore::not_run("relu", &points, why),
            ],
        };
        Graded {
            card: Scorecard {
                name: name.to_owned(),
                ops,
                fault: fault.map(str::to_owned),
                output: String::new(),
            },
            reports: Vec::new(),
            seconds: 0.0,
        }
    }

    #[test]
    fn a_row_per_submission_with_outcomes_and_reasons_quoted_as_csv_needs() {
        let class = [graded("alice, jr", None), graded("bob", Some("could not start"))];
        let text = String::from_utf8(csv(&class, &["linear", "relu"]).unwrap()).unwrap();
        assert_eq!(
            text,
            "submission,score,max_score,linear,relu,codes,reason\n\
             \"alice, jr\",2,3,pass,not_implemented,,\"relu: not implemented (the program answered \"\"unsupported op\"\")\"\n\
             bob,0,3,not_run,not_run,,could not start\n"
        );
        let table = table(&class, &["linear", "relu"]);
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("alice, jr         2/3  pass"),
            "{table}"
        );
        assert!(
            table
                .lines()
                .nth(2)
                .unwrap()
                .ends_with("not_run          could not start"),
            "{table}"
        );
    }
}
