//! The report in a Python person's words, before it reaches Python.
//!
//! - `check_op`'s cases fail with the crate's words around an exception of the function (`the
//!   forward failed: raised RuntimeError: …`), a plain failure to the crate: a failure whose
//!   message holds an exception the function raised is a `raised` fault again, as in the
//!   catalogue's checks, so that `gradverify explain raised` is the code a Python person sees.
//! - Zero has no sign: `-0.0` (`-1 * 0`, relu's mask of a negative upstream gradient) is `0.0`,
//!   so the text shows `0.000000` and the JSON `0.0`, as NumPy code would compare them.

use gradverify::verify::{Fault, Problem, Report};

/// `report` in Python's words; `raised` are the messages of the exceptions the function raised.
pub(crate) fn for_python(report: &mut Report, raised: &[String]) {
    for finding in &mut report.findings {
        if let Problem::Fault(Fault::Failed(message)) = &finding.problem
            && raised.iter().any(|r| message.contains(r.as_str()))
        {
            finding.problem = Problem::Fault(Fault::Raised(message.clone()));
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
