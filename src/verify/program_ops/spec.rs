//! The spec of an op a program brings, read from a file (`--spec ops.json` or `--spec ops.toml`,
//! shipped with an assignment) or from the program's answer to `describe`: its name, its dimension letters with
//! their lengths, its inputs (name, shape in those letters or in fixed lengths, domain, whether
//! it is differentiated), its outputs' names and its attributes, as `docs/protocol-program-ops.md`
//! writes them.
//!
//! A TOML spec is read into the same JSON value a JSON spec is (its tables in the written
//! order) and checked by the same path, so both say every mistake alike: an error that names the
//! argument `spec`, the file, the op, the field and what was expected.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::verify::custom::Domain;

/// The protocol a spec and a program speak, and its version.
pub const PROTOCOL: &str = "gradverify-ops/1";

/// A spec file: the protocol and the ops.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// Must be [`PROTOCOL`].
    pub protocol: String,
    /// The ops.
    pub ops: Vec<ProgramOp>,
}

/// One op.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramOp {
    /// Its name in requests.
    pub name: String,
    /// Its dimension letters with the lengths cases are drawn at, `{"B": 3, "D": 4}`, in the
    /// order written; the first is the batch, the one a failing case shrinks along.
    #[serde(default, deserialize_with = "ordered_lengths")]
    pub dims: Vec<(String, usize)>,
    /// Its inputs, in order.
    pub inputs: Vec<InputSpec>,
    /// Its outputs' names, in order.
    pub outputs: Vec<String>,
    /// Fixed settings sent with every request.
    #[serde(default)]
    pub attrs: BTreeMap<String, Value>,
}

/// One input of an op.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Its key in requests and answers.
    pub name: String,
    /// Its shape: each axis a dimension letter or a fixed length; `[]` for a scalar.
    pub shape: Vec<Axis>,
    /// Where it is drawn and stepped: `"real"` (the default), `"positive"` or `[a, b]`; or data
    /// drawn and never stepped: `{"labels": C}` or `"one_hot"` (rows along the last axis).
    #[serde(default)]
    pub domain: DomainSpec,
    /// Whether its gradient is asked for and checked (default true).
    #[serde(default = "yes")]
    pub grad: bool,
}

fn yes() -> bool {
    true
}

/// A JSON object of lengths, in the order written (serde_json keeps it).
fn ordered_lengths<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, usize)>, D::Error> {
    let map = serde_json::Map::<String, Value>::deserialize(d)?;
    map.into_iter()
        .map(|(letter, length)| match length.as_u64() {
            Some(n) => Ok((letter, n as usize)),
            None => Err(serde::de::Error::custom(format!(
                "dimension `{letter}`: its length must be a whole number, not {length}"
            ))),
        })
        .collect()
}

/// One axis of a shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Axis {
    /// A fixed length.
    Fixed(usize),
    /// A dimension letter of the op.
    Letter(String),
}

/// A domain as a spec writes it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(untagged)]
pub enum DomainSpec {
    /// Any real number.
    #[default]
    Real,
    /// `"real"` or `"positive"`.
    Named(String),
    /// `[a, b]`: the open interval.
    Interval([f64; 2]),
    /// `{"labels": C}`: the integers 0 to C − 1, never stepped nor differentiated.
    Labels {
        /// How many classes.
        labels: usize,
    },
}

impl SpecFile {
    /// The spec in the file at `path`: TOML if its name ends in `.toml`, JSON otherwise.
    pub fn read(path: &Path) -> Result<SpecFile> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            arg: "spec".into(),
            value: source.clone(),
            expected: format!("a readable spec file ({e})"),
        })?;
        if path.extension().is_some_and(|e| e == "toml") {
            SpecFile::parse_toml(&text, &source)
        } else {
            SpecFile::parse(&text, &source)
        }
    }

    /// The spec in `text` (JSON), checked; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<SpecFile> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| unreadable(source, &format!("JSON ({e})")))?;
        SpecFile::from_value(value, source)
    }

    /// The spec in `text` (TOML: `protocol = "gradverify-ops/1"` and an `[[ops]]` table per
    /// op), checked as a JSON spec is; `source` names it in errors.
    pub fn parse_toml(text: &str, source: &str) -> Result<SpecFile> {
        let value: Value = toml::from_str(text)
            .map_err(|e| unreadable(source, &format!("TOML ({})", e.to_string().trim_end())))?;
        SpecFile::from_value(value, source)
    }

    /// The spec in `value` (a parsed file, or a program's answer to `describe`), checked;
    /// `source` names it in errors.
    pub fn from_value(value: Value, source: &str) -> Result<SpecFile> {
        let bad = |expected: String| Error::Config {
            arg: "spec".into(),
            value: source.into(),
            expected,
        };
        let mut spec: SpecFile = serde_json::from_value(value.clone()).map_err(|e| {
            bad(format!(
                "a spec as docs/protocol-program-ops.md writes it ({{\"protocol\": \"{PROTOCOL}\", \"ops\": [...]}}): {}{e}",
                failing_op(&value)
            ))
        })?;
        // Labels and one-hot rows are data: never differentiated, whatever `grad` says.
        for input in spec.ops.iter_mut().flat_map(|op| op.inputs.iter_mut()) {
            input.grad &= !input.domain().is_ok_and(|d| d.is_discrete());
        }
        if spec.protocol != PROTOCOL {
            return Err(bad(format!("protocol \"{PROTOCOL}\", not \"{}\"", spec.protocol)));
        }
        for op in &spec.ops {
            op.check()
                .map_err(|why| bad(format!("op `{}`: {why}", op.name)))?;
        }
        Ok(spec)
    }

    /// The op named `name`, or an error that lists the ops there are.
    pub fn op(&self, name: &str) -> Result<&ProgramOp> {
        self.ops
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| Error::Config {
                arg: "op".into(),
                value: name.into(),
                expected: format!(
                    "an op of the spec ({})",
                    self.ops
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
}

/// A spec's text that is not JSON or TOML at all.
fn unreadable(source: &str, why: &str) -> Error {
    Error::Config {
        arg: "spec".into(),
        value: source.into(),
        expected: format!("a spec in {why}"),
    }
}

/// `op `NAME`: ` for the first op of `value` that is not an op as written (`ops[K]` where it
/// has no name), to say where a field is wrong; empty where every op is one.
fn failing_op(value: &Value) -> String {
    let ops = value.get("ops").and_then(Value::as_array).into_iter().flatten();
    (ops.enumerate())
        .find(|(_, op)| serde_json::from_value::<ProgramOp>((*op).clone()).is_err())
        .map(|(k, op)| match op.get("name").and_then(Value::as_str) {
            Some(name) => format!("op `{name}`: "),
            None => format!("ops[{k}]: "),
        })
        .unwrap_or_default()
}

impl ProgramOp {
    /// Why the op cannot be checked as written, if it cannot.
    fn check(&self) -> std::result::Result<(), String> {
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err("an op needs at least one input and one output".into());
        }
        for (letter, length) in &self.dims {
            if *length == 0 {
                return Err(format!(
                    "dimension `{letter}` has length 0: lengths are at least 1"
                ));
            }
        }
        for input in &self.inputs {
            for axis in &input.shape {
                if let Axis::Letter(letter) = axis
                    && !self.dims.iter().any(|(l, _)| l == letter)
                {
                    return Err(format!(
                        "input `{}` uses dimension `{letter}`, which `dims` does not give",
                        input.name
                    ));
                }
            }
            input
                .domain()
                .map_err(|why| format!("input `{}`: {why}", input.name))?;
        }
        if !self.inputs.iter().any(|i| i.grad) {
            return Err("no input is differentiated (every `grad` is false)".into());
        }
        let mut names: Vec<&str> = (self.inputs.iter().map(|i| i.name.as_str()))
            .chain(self.outputs.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the name `{}` is used twice", pair[0]));
        }
        Ok(())
    }

    /// The inputs' names, in order.
    pub fn inputs_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|i| i.name.as_str()).collect()
    }

    /// Each input's shape at the spec's lengths.
    pub fn shapes(&self) -> Vec<Vec<usize>> {
        (self.inputs.iter())
            .map(|input| input.shape.iter().map(|axis| self.length(axis)).collect())
            .collect()
    }

    /// The axes of the first dimension letter (the batch), as `(input, axis)`: where a failing
    /// case shrinks.
    pub fn batch_axes(&self) -> Vec<(usize, usize)> {
        let Some((batch, _)) = self.dims.first() else {
            return Vec::new();
        };
        (self.inputs.iter().enumerate())
            .flat_map(|(k, input)| {
                (input.shape.iter().enumerate())
                    .filter(|(_, axis)| matches!(axis, Axis::Letter(l) if l == batch))
                    .map(move |(a, _)| (k, a))
            })
            .collect()
    }

    fn length(&self, axis: &Axis) -> usize {
        match axis {
            Axis::Fixed(n) => *n,
            Axis::Letter(letter) => (self.dims.iter())
                .find(|(l, _)| l == letter)
                .map_or(1, |(_, n)| *n),
        }
    }
}

impl InputSpec {
    /// The domain, or why the spec's cannot be one.
    pub fn domain(&self) -> std::result::Result<Domain, String> {
        match &self.domain {
            DomainSpec::Real => Ok(Domain::Real),
            DomainSpec::Named(name) if name == "real" => Ok(Domain::Real),
            DomainSpec::Named(name) if name == "positive" => Ok(Domain::Positive),
            DomainSpec::Named(name) if name == "one_hot" => Ok(Domain::OneHot),
            DomainSpec::Named(other) => Err(format!(
                "domain \"{other}\": expected \"real\", \"positive\", [a, b], {{\"labels\": C}} or \"one_hot\""
            )),
            DomainSpec::Labels { labels } => Domain::Labels(*labels)
                .validate()
                .map_err(|_| "domain {\"labels\": 0}: expected at least one class".to_owned()),
            DomainSpec::Interval([a, b]) => Domain::Interval(*a, *b)
                .validate()
                .map_err(|_| format!("domain [{a}, {b}]: expected finite bounds a < b")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"protocol": "gradverify-ops/1", "ops": [
        {"name": "softplus", "dims": {"B": 3, "D": 4},
         "inputs": [{"name": "x", "shape": ["B", "D"]}], "outputs": ["y"]},
        {"name": "nll", "dims": {"B": 3, "C": 5},
         "inputs": [{"name": "z", "shape": ["B", "C"]}, {"name": "y", "shape": ["B"], "domain": {"labels": 5}},
                    {"name": "t", "shape": ["B", "C"], "domain": "one_hot"}], "outputs": ["loss"]},
        {"name": "scale", "dims": {"B": 2},
         "inputs": [{"name": "x", "shape": ["B", 5]}, {"name": "s", "shape": [], "domain": [0.5, 2.0]},
                    {"name": "mask", "shape": ["B", 5], "grad": false}],
         "outputs": ["y"], "attrs": {"eps": 1e-5}}]}"#;

    #[test]
    fn a_spec_gives_shapes_domains_and_the_batch_axes() {
        let spec = SpecFile::parse(SPEC, "ops.json").unwrap();
        let scale = spec.op("scale").unwrap();
        assert_eq!(scale.shapes(), [vec![2, 5], vec![], vec![2, 5]]);
        assert_eq!(scale.batch_axes(), [(0, 0), (2, 0)]);
        assert_eq!(scale.inputs[1].domain(), Ok(Domain::Interval(0.5, 2.0)));
        assert!(!scale.inputs[2].grad);
        assert_eq!(spec.op("softplus").unwrap().shapes(), [vec![3, 4]]);
        let missing = spec.op("gru").unwrap_err().to_string();
        assert!(missing.contains("softplus, nll, scale"), "{missing}");
        let nll = spec.op("nll").unwrap();
        assert_eq!(nll.inputs[1].domain(), Ok(Domain::Labels(5)));
        assert_eq!(nll.inputs[2].domain(), Ok(Domain::OneHot));
        assert_eq!(
            nll.inputs.iter().map(|i| i.grad).collect::<Vec<_>>(),
            [true, false, false],
            "labels and one-hot rows are not differentiated"
        );
    }

    /// [`SPEC`] in TOML, its `dims` written out of alphabetical order.
    const TOML_SPEC: &str = r#"
        protocol = "gradverify-ops/1"
        [[ops]]
        name = "softplus"
        dims = { B = 3, D = 4 }
        inputs = [{ name = "x", shape = ["B", "D"] }]
        outputs = ["y"]
        [[ops]]
        name = "nll"
        dims = { B = 3, C = 5 }
        inputs = [
          { name = "z", shape = ["B", "C"] },
          { name = "y", shape = ["B"], domain = { labels = 5 } },
          { name = "t", shape = ["B", "C"], domain = "one_hot" },
        ]
        outputs = ["loss"]
        [[ops]]
        name = "scale"
        outputs = ["y"]
        attrs = { eps = 1e-5 }
        inputs = [
          { name = "x", shape = ["B", 5] },
          { name = "s", shape = [], domain = [0.5, 2.0] },
          { name = "mask", shape = ["B", 5], grad = false },
        ]
        [ops.dims]
        B = 2
    "#;

    #[test]
    fn a_toml_spec_is_the_json_spec_it_writes_with_its_dims_in_the_written_order() {
        let toml = SpecFile::parse_toml(TOML_SPEC, "ops.toml").unwrap();
        assert_eq!(toml, SpecFile::parse(SPEC, "ops.json").unwrap());
        let ordered = r#"protocol = "gradverify-ops/1"
            [[ops]]
            name = "f"
            dims = { Z = 2, A = 3 }
            inputs = [{ name = "x", shape = ["A", "Z"] }]
            outputs = ["y"]"#;
        let spec = SpecFile::parse_toml(ordered, "ops.toml").unwrap();
        assert_eq!(spec.ops[0].dims, [("Z".to_owned(), 2), ("A".to_owned(), 3)]);
        assert_eq!(
            spec.ops[0].batch_axes(),
            [(0, 1)],
            "Z, written first, is the batch"
        );
    }

    #[test]
    fn a_toml_mistake_names_the_argument_the_file_the_op_and_the_field() {
        let error = |text: &str| {
            SpecFile::parse_toml(text, "course/ops.toml")
                .unwrap_err()
                .to_string()
        };
        let op = |body: &str| format!("protocol = \"gradverify-ops/1\"\n[[ops]]\nname = \"f\"\n{body}");
        let cases = [
            (
                op("dims = { B = 2.5 }\ninputs = [{ name = \"x\", shape = [\"B\"] }]\noutputs = [\"y\"]"),
                "op `f`: dimension `B`: its length must be a whole number",
            ),
            (
                op("inputs = [{ name = \"x\", shape = [2] }]\noutputs = [\"y\"]\ncolour = 1"),
                "op `f`: unknown field `colour`",
            ),
            (
                op("inputs = [{ name = \"x\", shape = [2] }]"),
                "op `f`: missing field `outputs`",
            ),
            (
                op("inputs = [{ name = \"x\", shape = [\"N\"] }]\noutputs = [\"y\"]"),
                "op `f`: input `x` uses dimension `N`",
            ),
            (
                "protocol = \"gradverify-ops/1\"\nops = [".to_owned(),
                "a spec in TOML",
            ),
        ];
        for (text, says) in cases {
            let message = error(&text);
            assert!(
                message.contains("argument `spec` is course/ops.toml") && message.contains(says),
                "{says}: {message}"
            );
        }
    }

    #[test]
    fn each_mistake_names_the_op_and_the_field() {
        let error = |text: &str| SpecFile::parse(text, "ops.json").unwrap_err().to_string();
        let op =
            |body: &str| format!(r#"{{"protocol": "gradverify-ops/1", "ops": [{{"name": "f", {body}}}]}}"#);
        let cases = [
            (
                op(r#""dims": {"B": 2}, "inputs": [{"name": "x", "shape": ["N"]}], "outputs": ["y"]"#),
                "`N`",
            ),
            (
                op(r#""dims": {"B": 2.5}, "inputs": [{"name": "x", "shape": ["B"]}], "outputs": ["y"]"#),
                "whole number",
            ),
            (
                op(r#""inputs": [{"name": "x", "shape": [2], "domain": "complex"}], "outputs": ["y"]"#),
                "\"complex\"",
            ),
            (
                op(r#""inputs": [{"name": "x", "shape": [2], "domain": [1, 0]}], "outputs": ["y"]"#),
                "a < b",
            ),
            (
                op(
                    r#""inputs": [{"name": "x", "shape": [2]}, {"name": "y", "shape": [2], "domain": {"labels": 0}}], "outputs": ["l"]"#,
                ),
                "at least one class",
            ),
            (
                op(r#""inputs": [{"name": "y", "shape": [2], "domain": {"labels": 3}}], "outputs": ["l"]"#),
                "no input",
            ),
            (
                op(r#""inputs": [{"name": "x", "shape": [2]}], "outputs": ["x"]"#),
                "`x` is used twice",
            ),
            (
                op(r#""inputs": [{"name": "x", "shape": [2], "grad": false}], "outputs": ["y"]"#),
                "no input",
            ),
            (op(r#""inputs": [], "outputs": ["y"]"#), "at least one input"),
            (
                op(r#""inputs": [{"name": "x", "shape": [2]}], "outputs": ["y"], "colour": 1"#),
                "unknown field",
            ),
            (r#"{"protocol": "v9", "ops": []}"#.to_owned(), "gradverify-ops/1"),
        ];
        for (text, says) in cases {
            let message = error(&text);
            assert!(
                message.contains("argument `spec`") && message.contains(says),
                "{says}: {message}"
            );
        }
        assert!(error(&op(r#""inputs": [], "outputs": ["y"]"#)).contains("op `f`"));
    }
}
