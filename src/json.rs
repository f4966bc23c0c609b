//! Arrays to and from JSON: a matrix is a list of rows, a vector a list of numbers (as in the
//! golden fixtures and `protocol-v1.md`). Every parse failure names the key and what is wrong.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
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

/// A JSON number as f64.
pub fn number(value: &Value, what: &str) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| json_error(what, format!("expected a number, got {}", kind(value))))
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
