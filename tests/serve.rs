//! `gradverify serve` answers protocol-v1 requests with the reference gradients, in order, and
//! answers a malformed request with an error line without stopping.

use std::io::Write;
use std::process::{Command, Stdio};

use gradverify::serve::answer;
use serde_json::{Value, json};

fn ask(request: Value) -> Value {
    answer(&request.to_string())
}

#[test]
fn linear_is_answered_with_the_backward_of_exercises_4_to_6() {
    let reply = ask(json!({"id": 1, "op": "linear",
        "inputs": {"h": [[1.0, 2.0]], "W": [[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]], "b": [0.0, 0.0, 0.0]},
        "grad_out": [[1.0, -2.0, 0.5]]}));
    // dL/dh = g Wᵀ, dL/dW = hᵀ g, dL/db = g.
    assert_eq!(
        reply,
        json!({"id": 1, "grads": {"h": [[0.5, 0.25]], "W": [[1.0, -2.0, 0.5], [2.0, -4.0, 1.0]], "b": [1.0, -2.0, 0.5]}})
    );
}

#[test]
fn relu_and_sqerr_are_answered() {
    let reply = ask(
        json!({"id": 2, "op": "relu", "inputs": {"a": [[1.0, -1.0, 0.0]]}, "grad_out": [[3.0, 4.0, 5.0]]}),
    );
    assert_eq!(reply, json!({"id": 2, "grads": {"a": [[3.0, 0.0, 0.0]]}}));
    let reply = ask(
        json!({"id": 3, "op": "sqerr", "inputs": {"f": [[1.0, 2.0]], "y": [[0.5, 3.0]]}, "grad_out": 2.0}),
    );
    assert_eq!(
        reply,
        json!({"id": 3, "grads": {"f": [[1.0, -2.0]], "y": [[-1.0, 2.0]]}})
    );
}

#[test]
fn mlp_is_answered_with_every_parameter_gradient_the_loss_and_dx() {
    // The scalar network of the notes' Sec. 2 (see tests/notes.rs for the hand computation).
    let reply = ask(json!({"id": 4, "op": "mlp", "inputs": {
        "x": [[2.0]], "y": [[1.0]], "W1": [[0.5]], "b1": [0.25], "W2": [[2.0]], "b2": [-1.0],
        "W3": [[3.0]], "b3": [0.5]}}));
    assert_eq!(
        reply,
        json!({"id": 4, "grads": {"W1": [[48.0]], "b1": [24.0], "W2": [[15.0]], "b2": [12.0],
            "W3": [[6.0]], "b3": [4.0], "x": [[12.0]], "loss": 8.0}})
    );
}

#[test]
fn malformed_requests_get_an_error_that_says_what_is_wrong() {
    let cases = [
        ("{not json", Value::Null, "request is not JSON"),
        (
            r#"{"id": 7, "op": "relu", "grad_out": [[1.0]]}"#,
            json!(7),
            "missing key `inputs`",
        ),
        (
            r#"{"id": 8, "op": "relu", "inputs": {"a": [[1.0], [2.0, 3.0]]}, "grad_out": [[1.0]]}"#,
            json!(8),
            "ragged matrix: row 1 has 2 entries, row 0 has 1",
        ),
        (
            r#"{"id": 9, "op": "relu", "inputs": {"a": [[1.0, "x"]]}, "grad_out": [[1.0, 1.0]]}"#,
            json!(9),
            "inputs.a[0][1]: expected a number, got a string",
        ),
        (
            r#"{"id": 10, "op": "relu", "inputs": {"a": [[1.0, 2.0]]}, "grad_out": [[1.0]]}"#,
            json!(10),
            "relu: argument `dL/dh` has shape [1, 1], expected [1, 2]",
        ),
        (r#"[1, 2]"#, Value::Null, "expected an object, got a list"),
    ];
    for (line, id, message) in cases {
        let reply = answer(line);
        assert_eq!(reply["id"], id, "{line}");
        let error = reply["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error for {line}: {reply}"));
        assert!(error.contains(message), "{line}: {error}");
        assert!(reply.get("grads").is_none());
    }
}

#[test]
fn an_unknown_op_is_unsupported_not_wrong() {
    let reply = answer(r#"{"id": 11, "op": "softmax", "inputs": {}}"#);
    assert_eq!(reply["id"], json!(11));
    assert_eq!(reply["error"], json!("unsupported op"));
}

/// `gradverify serve` with piped standard input and output.
fn spawn_serve() -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gradverify"))
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start gradverify serve")
}

#[test]
fn the_binary_serves_every_line_in_order_and_survives_garbage() {
    let mut child = spawn_serve();
    let input = concat!(
        r#"{"id": 1, "op": "relu", "inputs": {"a": [[2.0, -2.0]]}, "grad_out": [[1.5, 1.5]]}"#,
        "\n",
        "garbage\n",
        "\n",
        r#"{"id": 3, "op": "sqerr", "inputs": {"f": [[1.0]], "y": [[0.0]]}, "grad_out": 1.0}"#,
        "\n"
    );
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], json!({"id": 1, "grads": {"a": [[1.5, 0.0]]}}));
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("request is not JSON")
    );
    assert_eq!(lines[2], json!({"id": 3, "grads": {"f": [[1.0]], "y": [[-1.0]]}}));
}

#[test]
fn a_result_that_overflows_is_an_error_not_null() {
    // h W = 1e300 · 1e300 overflows f64: the gradient of b is finite, that of h and W is not.
    let reply = ask(json!({"id": 12, "op": "linear",
        "inputs": {"h": [[1e300]], "W": [[1e300]], "b": [0.0]}, "grad_out": [[1e300]]}));
    assert_eq!(reply["id"], json!(12));
    assert!(reply.get("grads").is_none(), "{reply}");
    let error = reply["error"].as_str().expect("an error");
    assert!(error.contains("is not finite"), "{error}");
}

#[test]
fn a_line_past_the_limit_and_a_non_utf8_line_get_errors_and_serving_goes_on() {
    let relu = r#"{"id": 5, "op": "relu", "inputs": {"a": [[1.0]]}, "grad_out": [[2.0]]}"#;
    let mut input = Vec::new();
    input.extend_from_slice(&[b'x'; 300]);
    input.push(b'\n');
    input.extend_from_slice(b"{\"id\": 4, \"op\": \"caf\xe9\"}\n");
    input.extend_from_slice(relu.as_bytes());
    input.push(b'\n');
    let mut output = Vec::new();
    gradverify::serve::serve_capped(input.as_slice(), &mut output, 200).unwrap();
    let lines: Vec<Value> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[0]["error"],
        json!(
            "the request line has 300 bytes, more than the limit of 200 bytes; it was read through, not kept"
        )
    );
    assert_eq!(lines[1]["id"], json!(4));
    assert_eq!(lines[1]["error"], json!("unsupported op"), "{}", lines[1]);
    assert_eq!(lines[2], json!({"id": 5, "grads": {"a": [[2.0]]}}));
}

#[test]
fn the_binary_answers_a_100_mb_request_with_an_error_and_goes_on() {
    let mut child = spawn_serve();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let block = vec![b'1'; 1 << 20];
        stdin.write_all(b"[").unwrap();
        for _ in 0..100 {
            stdin.write_all(&block).unwrap();
        }
        stdin.write_all(b"]\n\xff\n").unwrap();
        stdin
            .write_all(
                br#"{"id": 2, "op": "sqerr", "inputs": {"f": [[1.0]], "y": [[0.0]]}, "grad_out": 1.0}"#,
            )
            .unwrap();
        stdin.write_all(b"\n").unwrap();
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the request line has 104857602 bytes, more than the limit of 67108864"),
        "{error}"
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("request is not JSON")
    );
    assert_eq!(lines[2], json!({"id": 2, "grads": {"f": [[1.0]], "y": [[-1.0]]}}));
}
