//! `gradverify serve`: answers protocol requests (for every op of the registry) with the reference
//! gradients, one line each, in
//! order, until standard input closes. A request that cannot be answered gets
//! `{"id": …, "error": "…"}` and serving goes on; an op the protocol does not know gets
//! `"unsupported op"`, so a verifier reports it as not implemented.
//!
//! Serving never stops on a bad line: a line longer than [`REQUEST_LINE_LIMIT`] is read to its end
//! without being kept and answered with an error; a line that is not UTF-8 is decoded lossily
//! (and, as JSON, usually answered "not JSON"); a result that overflows f64 (an infinity or NaN
//! in a gradient) is an error, never `null`.

use std::io::{self, BufRead, Write};

use serde_json::{Value, json};

use crate::catalogue::Answer;
use crate::protocol::lines::LineReader;
use crate::protocol::{BadRequest, UNSUPPORTED, answer_to_json, parse_request};
use crate::verify::ops::{all, reference_answer};

/// The longest request line answered, in bytes (64 MiB).
pub const REQUEST_LINE_LIMIT: usize = 64 << 20;

/// The response line for one request line.
pub fn answer(line: &str) -> Value {
    match parse_request(line, all()) {
        Ok((id, request)) => match reference_answer(&request) {
            Ok(answer) => match not_finite(&answer) {
                None => json!({"id": id, "grads": answer_to_json(&answer)}),
                Some(name) => json!({"id": id, "error": format!(
                    "the gradient `{name}` is not finite (the inputs overflow f64); send smaller numbers"
                )}),
            },
            Err(e) => json!({"id": id, "error": e.to_string()}),
        },
        Err(BadRequest {
            id,
            message,
            unsupported: true,
        }) => json!({"id": id, "error": UNSUPPORTED, "detail": message}),
        Err(BadRequest { id, message, .. }) => json!({"id": id, "error": message}),
    }
}

/// The first gradient of `answer` holding an infinity or a NaN (JSON has no number for them).
fn not_finite(answer: &Answer) -> Option<&str> {
    answer
        .grads
        .iter()
        .find(|(_, g)| g.iter().any(|v| !v.is_finite()))
        .map(|(name, _)| name.as_str())
}

/// Serves every non-empty line of `input` (lines up to [`REQUEST_LINE_LIMIT`] bytes), writing and
/// flushing one response line each.
pub fn serve(input: impl BufRead, output: impl Write) -> io::Result<()> {
    serve_capped(input, output, REQUEST_LINE_LIMIT)
}

/// [`serve`] with a request line limit of `cap` bytes.
pub fn serve_capped(input: impl BufRead, mut output: impl Write, cap: usize) -> io::Result<()> {
    for line in LineReader::new(input, cap) {
        let line = line?;
        let response = if line.cut {
            json!({"id": null, "error": format!(
                "the request line has {} bytes, more than the limit of {cap} bytes; it was read through, not kept",
                line.len
            )})
        } else if line.text.trim().is_empty() {
            continue;
        } else {
            answer(&line.text)
        };
        writeln!(output, "{response}")?;
        output.flush()?;
    }
    Ok(())
}
