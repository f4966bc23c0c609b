//! The report in a Python person's words, before it reaches Python.
//!
//! - A fault of the Python function that crossed the built-in ops' checks as a panic
//!   ([`Calls::answer`](crate::student::Calls::answer)) is a plain failure again: the report
//!   reads `the call: your function raised ValueError: …`, not Rust's `panicked: …`. A panic
//!   that did not come from the function (a bug of the binding) stays a panic.
//! - Zero has no sign: `-0.0` (`-1 * 0`, relu's mask of a negative upstream gradient) is `0.0`,
//!   so the text shows `0.000000` and the JSON `0.0`, as NumPy code would compare them.

use std::collections::HashSet;

use gradverify::verify::{Fault, Problem, Report};

/// `report` in Python's words; `crossed` are the messages of the function's faults that
/// crossed as panics.
pub(crate) fn for_python(report: &mut Report, crossed: &HashSet<String>) {
    for finding in &mut report.findings {
        if let Problem::Fault(Fault::Panicked(message)) = &finding.problem
            && crossed.contains(message)
        {
            finding.problem = Problem::Fault(Fault::Failed(message.clone()));
        }
        for element in &mut finding.worst {
            element.expected = unsigned(element.expected);
            element.actual = unsigned(element.actual);
        }
        if let Some(values) = &mut finding.values {
            for v in values.expected.iter_mut().chain(&mut values.actual) {
                *v = unsigned(*v);
            }
        }
    }
}

/// `v`, with `-0.0` as `0.0`.
fn unsigned(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}
