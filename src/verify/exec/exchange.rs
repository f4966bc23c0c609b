//! A running program as the transport of the ops protocol (`docs/protocol-program-ops.md`): each request
//! gets the next id, goes out as one line, and the answer line with that id comes back as JSON
//! (late answers to earlier requests skipped, as protocol v1 does), each fault as the channel
//! says it.

use std::time::Instant;

use serde_json::{Map, Value};

use super::ExecSubject;
use super::channel::ANSWER_LINE_LIMIT;
use super::fault::ProcessFault;
use crate::verify::Fault;
use crate::verify::program_ops::Exchange;

impl Exchange for ExecSubject {
    fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
        if let Some(fault) = self.channel.gone() {
            return Err(fault.clone().into());
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut line = Map::new();
        line.insert("id".into(), Value::from(id));
        if let Value::Object(fields) = request {
            line.extend(fields);
        }
        self.channel.send(Value::Object(line).to_string())?;
        let deadline = Instant::now() + self.channel.timeout();
        loop {
            let text = self.channel.receive(deadline, id, ANSWER_LINE_LIMIT)?;
            let value = crate::json::parse_lenient(&text)
                .map_err(|e| Fault::from(ProcessFault::Protocol(format!("the answer is not JSON ({e})"))))?;
            match value.get("id").and_then(Value::as_u64) {
                Some(earlier) if earlier < id => continue,
                Some(this) if this == id => {
                    self.channel.heard();
                    return Ok(value);
                }
                found => {
                    let message = format!("the answer has id {found:?}, expected {id}");
                    return Err(ProcessFault::Protocol(message).into());
                }
            }
        }
    }
}
