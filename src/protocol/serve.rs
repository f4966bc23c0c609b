//! `gradverify serve`: answers protocol requests with the reference gradients, one line each, in
//! order, until standard input closes. A request that cannot be answered gets
//! `{"id": …, "error": "…"}` and serving goes on; an op the protocol does not know gets
//! `"unsupported op"`, so a verifier reports it as not implemented.

use std::io::{self, BufRead, Write};

use serde_json::{Value, json};

use super::{BadRequest, UNSUPPORTED, parse_request, reference_answer};

/// The response line for one request line.
pub fn answer(line: &str) -> Value {
    match parse_request(line) {
        Ok((id, request)) => match reference_answer(&request) {
            Ok(answer) => json!({"id": id, "grads": answer.to_json()}),
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

/// Serves every non-empty line of `input`, writing and flushing one response line each.
pub fn serve(input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        writeln!(output, "{}", answer(&line))?;
        output.flush()?;
    }
    Ok(())
}
