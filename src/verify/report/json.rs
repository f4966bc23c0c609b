//! The report as JSON: the model as it derives `Serialize`, with the verdict (`"pass"`,
//! `"fail"`, `"inconclusive"`) and, beside each finding's fields, its rendered text (`"text"`).
//! Each diagnosis is an object with a `"code"` field.

use serde_json::Value;

use crate::compare::Verdict;

use super::model::Report;
use super::text;

impl Report {
    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("internal: the report model is plain data");
        value["verdict"] = verdict(self.verdict()).into();
        if let Some(findings) = value["findings"].as_array_mut() {
            for (json, finding) in findings.iter_mut().zip(&self.findings) {
                json["text"] = text::finding(finding, self.cases).into();
            }
        }
        value
    }
}

/// The verdict's name in JSON.
fn verdict(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::Bug;
    use crate::compare::Element;
    use crate::verify::report::{Diagnosis, Fault, Finding, Problem, Subject};

    #[test]
    fn the_json_holds_the_model_with_codes_and_each_findings_text() {
        let mut report = Report::new("f", "relu", 5);
        report.findings.push(Finding {
            what: Subject::Gradient("a".to_owned()),
            problem: Problem::WrongShape {
                got: vec![1, 1],
                expected: vec![2, 1],
            },
            failed: 5,
            smallest_shape: "B=2 D=1".to_owned(),
            worst: vec![Element {
                index: vec![1, 0],
                expected: 2.0,
                actual: 1.0,
                rel_err: 0.5,
            }],
            values: None,
            diagnosis: Some(Diagnosis::Bug(&Bug {
                code: "layer_mask_missing",
                summary: "the relu mask of hidden layer 2 is missing",
                explain: "",
                parameter: Some(("layer", 2)),
            })),
            only_batch_of_one: false,
        });
        report.findings.push(Finding {
            what: Subject::Call,
            problem: Problem::Fault(Fault::Panicked("not yet".to_owned())),
            failed: 1,
            smallest_shape: "B=1 D=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis: None,
            only_batch_of_one: false,
        });
        let value = report.to_json();
        assert_eq!(value["verdict"], json!("fail"));
        let first = &value["findings"][0];
        assert_eq!(first["what"], json!({"kind": "gradient", "input": "a"}));
        assert_eq!(
            first["problem"],
            json!({"kind": "wrong_shape", "detail": {"got": [1, 1], "expected": [2, 1]}})
        );
        assert_eq!(first["diagnosis"]["code"], json!("layer_mask_missing"));
        assert_eq!(first["diagnosis"]["layer"], json!(2));
        assert_eq!(
            first["worst"],
            json!([{"index": [1, 0], "expected": 2.0, "actual": 1.0, "rel_err": 0.5}])
        );
        assert_eq!(
            first["text"],
            json!(text::finding(&report.findings[0], 5)),
            "each finding carries its rendered text"
        );
        let second = &value["findings"][1];
        assert_eq!(second["what"], json!({"kind": "call"}));
        assert_eq!(
            second["problem"],
            json!({"kind": "fault", "detail": {"kind": "panicked", "detail": "not yet"}})
        );
        assert_eq!(Report::new("f", "relu", 5).to_json()["verdict"], json!("pass"));
    }
}
