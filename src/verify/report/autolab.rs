//! A [`Scorecard`] as Autolab reads an autograder's result: the last line of standard output is
//! one JSON object, `{"scores": {"linear": 2, …}, "scoreboard": [total, linear, …]}`, each op a
//! problem with the points it scored.

use serde_json::{Map, Value, json};

use super::score::Scorecard;

/// The one line Autolab reads, without its newline.
pub fn last_line(card: &Scorecard) -> String {
    let scores: Map<String, Value> = card.ops.iter().map(|o| (o.op.clone(), json!(o.score))).collect();
    let mut scoreboard = vec![json!(card.score())];
    scoreboard.extend(card.ops.iter().map(|o| json!(o.score)));
    json!({ "scores": scores, "scoreboard": scoreboard }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::Report;
    use crate::verify::report::schema::holds;
    use crate::verify::report::score::{OpScore, Points};

    #[test]
    fn one_line_with_each_ops_points_and_the_total_first_on_the_scoreboard() {
        let points: Points = "linear=2".parse().unwrap();
        let card = Scorecard {
            name: "s".to_owned(),
            ops: vec![
                OpScore::of(&Report::new("s", "linear", 3), "linear", &points),
                OpScore::not_run("relu", &points, "no time"),
            ],
            fault: None,
            output: String::new(),
        };
        let line = last_line(&card);
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        holds(&value, "autolab.json", "required").unwrap();
        assert_eq!(value["scores"], json!({"linear": 2.0, "relu": 0.0}));
        assert_eq!(value["scoreboard"], json!([2.0, 2.0, 0.0]));
    }
}
