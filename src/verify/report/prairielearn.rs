//! A [`Scorecard`] as PrairieLearn's external-grader `results.json`: `gradable`, `score` as a
//! fraction in [0, 1], `message` (the summary), `output` (every op's report) and one entry of
//! `tests` per op with `name`, `points`, `max_points`, `message` (pass, or why not) and `output`
//! (its report). A submission that could not be graded at all (its command could not start) is
//! `gradable: false` with `format_errors`, so that the student does not lose an attempt.
//! PrairieLearn refuses results over 1 MB: each report is cut to fit, saying so.

use serde_json::{Value, json};

use super::score::{Outcome, Scorecard};

/// PrairieLearn's limit on `results.json`.
pub const MAX_BYTES: usize = 1_000_000;
/// The most characters of one op's report kept (15 ops and the whole output fit in 1 MB).
const TEST_OUTPUT_CHARS: usize = 30_000;

/// PrairieLearn's `results.json` for one program.
pub fn results(card: &Scorecard) -> Value {
    let not_graded = card.ops.iter().all(|o| o.outcome == Outcome::NotRun);
    if let (true, Some(fault)) = (not_graded, &card.fault) {
        return ungradable(fault);
    }
    let tests: Vec<Value> = card
        .ops
        .iter()
        .map(|op| {
            let message = match op.outcome {
                Outcome::Pass => "pass".to_owned(),
                _ => op.reason.clone().unwrap_or_else(|| op.outcome.name().to_owned()),
            };
            json!({
                "name": op.op,
                "points": op.score,
                "max_points": op.max_score,
                "message": cut(&message, TEST_OUTPUT_CHARS),
                "output": cut(&op.text, TEST_OUTPUT_CHARS),
            })
        })
        .collect();
    let fraction = if card.max_score() > 0.0 {
        (card.score() / card.max_score()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let everything: String = card.ops.iter().map(|o| format!("{}\n", o.text)).collect();
    json!({
        "gradable": true,
        "score": fraction,
        "message": cut(&card.output, TEST_OUTPUT_CHARS),
        "output": cut(&everything, 4 * TEST_OUTPUT_CHARS),
        "tests": tests,
    })
}

/// The results of a submission that could not be graded, and why.
pub fn ungradable(why: &str) -> Value {
    json!({ "gradable": false, "format_errors": [why] })
}

/// `text` cut to `chars` characters, saying how much was left out.
fn cut(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(chars).collect();
    format!("{kept}\n… ({} more characters cut)", count - chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::Report;
    use crate::verify::report::schema::holds;
    use crate::verify::report::score::{OpScore, Points};

    fn card(long: bool) -> Scorecard {
        let points: Points = "linear=3".parse().unwrap();
        let mut failing = OpScore::of(
            &Report {
                implemented: false,
                ..Report::new("python3 s.py", "relu", 5)
            },
            "relu",
            &points,
        );
        if long {
            failing.text = "x".repeat(3 * MAX_BYTES);
        }
        Scorecard {
            name: "python3 s.py".to_owned(),
            ops: vec![
                OpScore::of(&Report::new("python3 s.py", "linear", 5), "linear", &points),
                failing,
            ],
            fault: None,
            output: "1 of 2 ops pass, score 3 / 4".to_owned(),
        }
    }

    #[test]
    fn each_op_is_a_test_with_its_points_and_the_score_is_a_fraction() {
        let value = results(&card(false));
        holds(&value, "prairielearn.json", "required").unwrap();
        for test in value["tests"].as_array().unwrap() {
            holds(test, "prairielearn.json", "test_required").unwrap();
        }
        assert_eq!(value["score"], json!(0.75));
        assert_eq!(value["tests"][0]["points"], json!(3.0));
        assert_eq!(value["tests"][1]["max_points"], json!(1.0));
        assert_eq!(value["tests"][0]["message"], json!("pass"));
        assert!(
            value["tests"][1]["message"]
                .as_str()
                .unwrap()
                .contains("not implemented")
        );
    }

    #[test]
    fn a_huge_report_is_cut_to_fit_the_megabyte() {
        let text = results(&card(true)).to_string();
        assert!(text.len() < MAX_BYTES, "{} bytes", text.len());
        assert!(text.contains("more characters cut"));
    }

    #[test]
    fn a_submission_that_could_not_start_is_not_gradable_and_costs_no_attempt() {
        let points = Points::default();
        let card = Scorecard {
            name: "s".to_owned(),
            ops: vec![OpScore::not_run("relu", &points, "cannot start")],
            fault: Some("the command could not start (exit status: 127)".to_owned()),
            output: String::new(),
        };
        let value = results(&card);
        holds(&value, "prairielearn.json", "ungradable_required").unwrap();
        assert_eq!(value["gradable"], json!(false));
        assert!(value.get("score").is_none());
    }
}
