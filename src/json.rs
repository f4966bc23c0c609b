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
