//! `gradverify serve`: answers protocol requests (for every op of the registry) with the reference
//! gradients, one line each, in order, until standard input closes. [`respond`] answers one line
//! with any backward: the Python package serves a student's functions through it, so protocol v1
//! is read and written here only. A request that cannot be answered gets
//! `{"id": …, "error": "…"}` and serving goes on; an op the protocol does not know gets
//! `"unsupported op"`, so a verifier reports it as not implemented.
//!
//! Serving never stops on a bad line: a line longer than [`REQUEST_LINE_LIMIT`] is read to its end
//! without being kept and answered with an error; a line that is not UTF-8 is decoded lossily
//! (and, as JSON, usually answered "not JSON"); a result that overflows f64 (an infinity or NaN
//! in a gradient) is an error, never `null`.

use std::io::{self, BufRead, Write};

use serde_json::{Value, json};

use crate::catalogue::{Answer, Request};
use crate::protocol::lines::LineReader;
use crate::protocol::{BadRequest, UNSUPPORTED, answer_to_json, parse_request};
use crate::verify::ops::{all, reference_answer};

/// The longest request line answered, in bytes (64 MiB).
pub const REQUEST_LINE_LIMIT: usize = 64 << 20;

/// Why a backward gave no answer to a request it was asked ([`respond`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Unanswered {
    /// It has not written the op: answered `"unsupported op"`.
    Unsupported,
    /// It failed, for this reason (an exception's traceback, a result of the wrong kind).
    Error(String),
}

/// The response line for one request line, with the reference gradients.
pub fn answer(line: &str) -> Value {
    respond(line, |request| {
        reference_answer(request).map_err(|e| Unanswered::Error(e.to_string()))
    })
}

/// The response line for one request line (of any op of the registry), with what `backward`
/// answers for its request: the same reading of the request, errors and refusal of a non-finite
/// gradient for every backward, the reference or a student's function (the Python package's
/// `serve`).
pub fn respond(line: &str, backward: impl FnOnce(&Request) -> Result<Answer, Unanswered>) -> Value {
    match parse_request(line, all()) {
        Ok((id, request)) => match backward(&request) {
            Ok(answer) => match not_finite(&answer) {
                None => json!({"id": id, "grads": answer_to_json(&answer)}),
                Some(name) => json!({"id": id, "error": format!(
                    "the gradient `{name}` is not finite (the inputs overflow f64); send smaller numbers"
                )}),
            },
            Err(Unanswered::Unsupported) => json!({"id": id, "error": UNSUPPORTED}),
            Err(Unanswered::Error(message)) => json!({"id": id, "error": message}),
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

#[cfg(test)]
mod tests {
    use ndarray::arr2;

    use super::*;

    const RELU: &str = r#"{"id": 4, "op": "relu", "inputs": {"a": [[1.0, -1.0]]}, "grad_out": [[2.0, 3.0]]}"#;

    #[test]
    fn respond_writes_what_any_backward_answers_with_the_protocols_checks() {
        let doubled = respond(RELU, |r| {
            Ok(Answer::default().with("a", (&r.upstream() * 2.0).to_owned()))
        });
        assert_eq!(doubled, json!({"id": 4, "grads": {"a": [[4.0, 6.0]]}}));
        let unsupported = respond(RELU, |_| Err(Unanswered::Unsupported));
        assert_eq!(unsupported, json!({"id": 4, "error": UNSUPPORTED}));
        let raised = respond(RELU, |_| Err(Unanswered::Error("ValueError: no".to_owned())));
        assert_eq!(raised, json!({"id": 4, "error": "ValueError: no"}));
        let infinite = respond(RELU, |_| {
            Ok(Answer::default().with("a", arr2(&[[f64::INFINITY, 0.0]]).into_dyn()))
        });
        assert!(
            infinite["error"]
                .as_str()
                .is_some_and(|e| e.contains("`a` is not finite")),
            "{infinite}"
        );
        let asked = std::cell::Cell::new(false);
        let bad = respond("{\"id\": 5, \"op\": \"relu\"}", |_| {
            asked.set(true);
            Err(Unanswered::Unsupported)
        });
        assert!(
            !asked.get() && bad["id"] == 5 && bad["error"].is_string(),
            "{bad}"
        );
    }
}
