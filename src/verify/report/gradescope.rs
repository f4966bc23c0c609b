//! A [`Scorecard`] as Gradescope's `results.json`, in the schema of Gradescope's autograder
//! specifications: a top-level `score`, `output` (the program's summary and what went wrong with
//! it as a whole) and `visibility`, and one entry of `tests` per op with `name`, `score`,
//! `max_score`, `status` (`passed` or `failed`) and `output`, the op's text report.
//!
//! Every op that does not pass is `failed` with score 0, whether it failed, is not implemented,
//! is inconclusive or was not run; its output says which.

use serde_json::{Value, json};

use super::score::{Outcome, Scorecard};

/// Gradescope's `results.json` for one program.
pub fn results(card: &Scorecard) -> Value {
    let tests: Vec<Value> = card
        .ops
        .iter()
        .map(|op| {
            json!({
                "name": op.op,
                "score": op.score,
                "max_score": op.max_score,
                "status": if op.outcome == Outcome::Pass { "passed" } else { "failed" },
                "output": op.text,
                "visibility": "visible",
            })
        })
        .collect();
    json!({
        "score": card.score(),
        "output": card.output,
        "visibility": "visible",
        "tests": tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::Report;
    use crate::verify::report::score::{OpScore, Points};

    #[test]
    fn each_op_is_a_test_with_its_points_status_and_report() {
        let points: Points = "linear=3".parse().unwrap();
        let unsupported = Report {
            implemented: false,
            ..Report::new("python3 s.py", "relu", 5)
        };
        let card = Scorecard {
            name: "python3 s.py".to_owned(),
            ops: vec![
                OpScore::of(&Report::new("python3 s.py", "linear", 5), "linear", &points),
                OpScore::of(&unsupported, "relu", &points),
            ],
            fault: None,
            output: "1 of 2 ops pass, score 3 / 4".to_owned(),
        };
        let value = results(&card);
        assert_eq!(value["score"], json!(3.0));
        assert_eq!(value["output"], json!("1 of 2 ops pass, score 3 / 4"));
        assert_eq!(value["tests"][0]["name"], json!("linear"));
        assert_eq!(value["tests"][0]["status"], json!("passed"));
        assert_eq!(value["tests"][0]["max_score"], json!(3.0));
        assert_eq!(
            value["tests"][0]["output"],
            json!("linear (python3 s.py): pass, 5 random cases")
        );
        assert_eq!(value["tests"][1]["status"], json!("failed"));
        assert_eq!(value["tests"][1]["score"], json!(0.0));
        assert_eq!(value["tests"][1]["max_score"], json!(1.0));
        assert!(
            value["tests"][1]["output"]
                .as_str()
                .unwrap()
                .contains("NOT IMPLEMENTED")
        );
    }
}
