//! Arrays to and from JSON: a matrix is a list of rows, a vector a list of numbers (as in the
//! golden fixtures and `protocol-v1.md`). Every parse failure names the key and what is wrong.

use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, Axis, IxDyn, arr0};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

fn json_error(context: &str, message: String) -> Error {
    Error::Json {
        context: context.to_owned(),
        message,
    }
}

/// The value under `key`, or an error naming the missing key.
pub fn field<'a>(object: &'a Map<String, Value>, key: &str, context: &str) -> Result<&'a Value> {
    object.get(key).ok_or_else(|| Error::MissingKey {
        context: context.to_owned(),
        key: key.to_owned(),
    })
}

/// A JSON number as f64; also the non-finite values a [`parse_lenient`] line carries.
pub fn number(value: &Value, what: &str) -> Result<f64> {
    let non_finite = || match value.as_str()? {
        NAN => Some(f64::NAN),
        INFINITY => Some(f64::INFINITY),
        MINUS_INFINITY => Some(f64::NEG_INFINITY),
        _ => None,
    };
    (value.as_f64().or_else(non_finite))
        .ok_or_else(|| json_error(what, format!("expected a number, got {}", kind(value))))
}

/// The tokens Python's `json.dumps` (and JavaScript's `String(x)`) write for non-finite floats.
const NAN: &str = "NaN";
const INFINITY: &str = "Infinity";
const MINUS_INFINITY: &str = "-Infinity";

/// Parses a line of JSON that may hold the bare tokens `NaN`, `Infinity` and `-Infinity` where
/// numbers belong (what `json.dumps` writes for a gradient that overflowed): each becomes the
/// string of its name, which [`number`] reads back as the float. A NaN in an answer is then a
/// wrong value to report, not a line that cannot be read.
pub fn parse_lenient(line: &str) -> serde_json::Result<Value> {
    serde_json::from_str(line).or_else(|strict| {
        let quoted = quote_non_finite(line);
        if quoted.len() == line.len() {
            return Err(strict);
        }
        serde_json::from_str(&quoted).map_err(|_| strict)
    })
}

/// `line` with every bare `NaN`, `Infinity` and `-Infinity` outside a string put in quotes.
fn quote_non_finite(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = [MINUS_INFINITY, INFINITY, NAN]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A list of numbers.
pub fn vector(value: &Value, what: &str) -> Result<Array1<f64>> {
    let items = value
        .as_array()
        .ok_or_else(|| json_error(what, format!("expected a list of numbers, got {}", kind(value))))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| number(v, &format!("{what}[{i}]")))
        .collect::<Result<Vec<_>>>()
        .map(Array1::from)
}

/// A list of rows of equal length.
pub fn matrix(value: &Value, what: &str) -> Result<Array2<f64>> {
    let rows = value.as_array().ok_or_else(|| {
        json_error(
            what,
            format!("expected a matrix (a list of rows), got {}", kind(value)),
        )
    })?;
    let mut data = Vec::new();
    let mut cols = None;
    for (r, row) in rows.iter().enumerate() {
        let row = vector(row, &format!("{what}[{r}]"))?;
        match cols {
            None => cols = Some(row.len()),
            Some(c) if c != row.len() => {
                return Err(json_error(
                    what,
                    format!("ragged matrix: row {r} has {} entries, row 0 has {c}", row.len()),
                ));
            }
            Some(_) => {}
        }
        data.extend(row);
    }
    let cols = cols.unwrap_or(0);
    Ok(Array2::from_shape_vec((rows.len(), cols), data).expect("internal: rows × cols entries"))
}

/// An array of `rank` axes: a number (rank 0), a list of numbers (1), a list of rows (2), or lists
/// nested `rank` deep whose entries all have one shape (an N×C×H×W image batch).
pub fn array(value: &Value, rank: usize, what: &str) -> Result<ArrayD<f64>> {
    match rank {
        0 => Ok(arr0(number(value, what)?).into_dyn()),
        1 => Ok(vector(value, what)?.into_dyn()),
        2 => Ok(matrix(value, what)?.into_dyn()),
        _ => nested(value, rank, what),
    }
}

/// A list of arrays of rank `rank − 1`, all of one shape, stacked along a new first axis.
fn nested(value: &Value, rank: usize, what: &str) -> Result<ArrayD<f64>> {
    let items = value.as_array().ok_or_else(|| {
        json_error(
            what,
            format!("expected lists nested {rank} deep, got {}", kind(value)),
        )
    })?;
    let parts = (items.iter().enumerate())
        .map(|(i, v)| array(v, rank - 1, &format!("{what}[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if let Some((i, part)) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| p.shape() != parts[0].shape())
    {
        return Err(json_error(
            what,
            format!(
                "ragged array: entry {i} has shape {:?}, entry 0 has {:?}",
                part.shape(),
                parts[0].shape()
            ),
        ));
    }
    let inner: Vec<usize> = parts
        .first()
        .map_or_else(|| vec![0; rank - 1], |p| p.shape().to_vec());
    let views: Vec<_> = parts.iter().map(|p| p.view().insert_axis(Axis(0))).collect();
    if views.is_empty() {
        let shape: Vec<usize> = std::iter::once(0).chain(inner).collect();
        return Ok(ArrayD::zeros(IxDyn(&shape)));
    }
    Ok(ndarray::concatenate(Axis(0), &views).expect("internal: entries of one shape"))
}

/// An array as lists nested as deep as its rank (a number for rank 0); integers as JSON
/// integers when `integers` (labels, indices).
pub fn from_array(a: ArrayViewD<'_, f64>, integers: bool) -> Value {
    let number = |x: f64| {
        if integers && x.fract() == 0.0 && x.abs() < 9.0e15 {
            Value::from(x as i64)
        } else {
            Value::from(x)
        }
    };
    match a.ndim() {
        0 => number(a.iter().next().copied().unwrap_or(f64::NAN)),
        1 => Value::Array(a.iter().map(|&x| number(x)).collect()),
        _ => Value::Array(a.outer_iter().map(|sub| from_array(sub, integers)).collect()),
    }
}

/// A matrix as a list of rows.
pub fn from_matrix(m: ArrayView2<'_, f64>) -> Value {
    Value::Array(m.rows().into_iter().map(from_vector).collect())
}

/// A vector as a list of numbers.
pub fn from_vector(v: ArrayView1<'_, f64>) -> Value {
    Value::Array(v.iter().map(|&x| Value::from(x)).collect())
}

/// A short name for the kind of a JSON value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod lenient_tests {
    use super::*;

    #[test]
    fn bare_non_finite_tokens_read_as_floats_and_strings_keep_them() {
        let v = parse_lenient(r#"{"id": 1, "grads": {"z": [[NaN, -Infinity, 2.5], [Infinity, 0, 1]]}, "note": "NaN \"Infinity\""}"#)
            .expect("lenient JSON");
        let z = array(&v["grads"]["z"], 2, "z").expect("a matrix");
        assert!(z[[0, 0]].is_nan());
        assert_eq!(
            (z[[0, 1]], z[[0, 2]], z[[1, 0]]),
            (f64::NEG_INFINITY, 2.5, f64::INFINITY)
        );
        assert_eq!(v["note"], "NaN \"Infinity\"");
    }

    #[test]
    fn a_line_broken_otherwise_keeps_its_strict_error() {
        let strict = serde_json::from_str::<Value>("{\"id\": 1,")
            .unwrap_err()
            .to_string();
        assert_eq!(parse_lenient("{\"id\": 1,").unwrap_err().to_string(), strict);
        assert!(parse_lenient("{\"id\": Nope}").is_err());
    }
}
