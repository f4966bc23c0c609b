//! Protocol v1 (`protocol-v1.md`) line by line: the request line, the longest answer line a
//! request can need, and what an answer line says about request `id`. It knows requests, answers
//! and ids, not processes: the lines come and go through a [`Channel`](super::channel::Channel),
//! which refuses a line longer than [`answer_budget`].

use serde_json::Value;

use super::channel::ANSWER_LINE_LIMIT;
use super::fault::ProcessFault;
use crate::catalogue::{Answer, Request};
use crate::protocol::lines::printable;
use crate::protocol::{UNSUPPORTED, answer_from_json, answer_numbers, request_to_json};
use crate::verify::Fault;

/// How much of a line that is not an answer is quoted.
const QUOTE_CHARS: usize = 80;
/// Bytes a JSON number may take in an answer, generously (`-1.2345678901234567e-308, `).
const BYTES_PER_NUMBER: usize = 64;
/// Bytes for everything in an answer line but its numbers (keys, brackets, white space).
const ANSWER_OVERHEAD: usize = 1 << 20;

/// What an answer line is to the request waited for.
pub(super) enum Reading {
    /// A late answer to an earlier request: skipped, and it does not count as answering.
    Late,
    /// The answer to this request, or the fault it shows.
    Answer(Result<Answer, Fault>),
}

/// The line of request `request` with id `id`.
pub(super) fn request_line(request: &Request, id: u64) -> String {
    request_to_json(request, id).to_string()
}

/// What `line` (at most [`answer_budget`] bytes) says to request `id` (`request`).
pub(super) fn read(line: &str, id: u64, request: &Request) -> Reading {
    let value: Value = match crate::json::parse_lenient(line) {
        Ok(value) => value,
        Err(e) => {
            let message = format!("the answer is not JSON ({e}): {}", quote(line));
            return Reading::Answer(Err(protocol(message)));
        }
    };
    let found = value.get("id").and_then(Value::as_u64);
    if found.is_some_and(|earlier| earlier < id) {
        return Reading::Late;
    }
    Reading::Answer(match found {
        Some(this) if this == id => parse_answer(&value, request),
        Some(other) => Err(protocol(format!("the answer has id {other}, expected {id}"))),
        None => Err(protocol(format!(
            "the answer has no numeric `id` (expected {id}): {}",
            quote(line)
        ))),
    })
}

/// A protocol fault, as the verifier's fault.
fn protocol(message: String) -> Fault {
    ProcessFault::Protocol(message).into()
}

/// The gradients of an answer line, keyed and shaped as `request`'s op says, or the fault it
/// shows.
fn parse_answer(value: &Value, request: &Request) -> Result<Answer, Fault> {
    if let Some(error) = value.get("error") {
        return match error.as_str() {
            Some(UNSUPPORTED) => Err(Fault::Unsupported),
            Some(text) => Err(protocol(format!("the program answered with an error: {text}"))),
            None => Err(protocol(format!("the program answered with an error: {error}"))),
        };
    }
    let Some(grads) = value.get("grads") else {
        return Err(protocol("the answer has neither `grads` nor `error`".to_owned()));
    };
    answer_from_json(grads, request).map_err(Fault::of_answer)
}

/// The longest answer line that the gradients of `request` can need (at most
/// [`ANSWER_LINE_LIMIT`]). Parsed into a JSON tree, a line takes several times its length: a line
/// far longer than its gradients can need is refused before it is parsed.
pub(super) fn answer_budget(request: &Request) -> usize {
    answer_numbers(request)
        .saturating_mul(BYTES_PER_NUMBER)
        .saturating_add(ANSWER_OVERHEAD)
        .min(ANSWER_LINE_LIMIT)
}

/// The first characters of a line, for messages.
fn quote(line: &str) -> String {
    let mut quoted: String = line.chars().take(QUOTE_CHARS).collect();
    if line.chars().count() > QUOTE_CHARS {
        quoted.push('…');
    }
    format!("`{}`", printable(&quoted))
}
