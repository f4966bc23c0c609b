//! For the formats' tests: a value holds the keys and JSON types a platform's documented schema
//! requires (`fixtures/schemas/*.json`: a map of key to `string`, `number`, `boolean`, `array` or
//! `object`).
#![cfg(test)]

use serde_json::Value;

/// `value` has every key of the schema's map `section`, each of its type; else which does not.
pub fn holds(value: &Value, schema: &str, section: &str) -> Result<(), String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schemas")
        .join(schema);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let schema: Value = serde_json::from_str(&text).map_err(|e| format!("{schema}: {e}"))?;
    let keys = schema[section]
        .as_object()
        .ok_or(format!("{section} is not in the schema"))?;
    for (key, kind) in keys {
        let found = &value[key];
        let ok = match kind.as_str() {
            Some("string") => found.is_string(),
            Some("number") => found.is_number(),
            Some("boolean") => found.is_boolean(),
            Some("array") => found.is_array(),
            Some("object") => found.is_object(),
            _ => false,
        };
        if !ok {
            return Err(format!("{key} should be {kind} in {value}"));
        }
    }
    Ok(())
}
