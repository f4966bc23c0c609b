//! The verifier's report as a Python object: `str()` is the crate's text report, `.passed` and
//! `.verdict` the outcome, `.to_json()` the report model, `.assert_correct()` the one line a
//! pytest test needs, `_repr_html_()` the table a notebook shows ([`html`](crate::html)).

use gradverify::compare::Verdict;
use gradverify::verify::Report;
use pyo3::exceptions::PyAssertionError;
use pyo3::prelude::*;

/// What the verifier found about one op's backward.
#[pyclass(name = "Report", module = "gradverify", frozen)]
pub struct PyReport {
    report: Report,
}

impl From<Report> for PyReport {
    fn from(report: Report) -> Self {
        PyReport { report }
    }
}

#[pymethods]
impl PyReport {
    /// True when the op is implemented and nothing was found.
    #[getter]
    fn passed(&self) -> bool {
        self.report.passed()
    }

    /// "pass", "fail", or "inconclusive" (nothing failed, but a gradient could not be judged).
    #[getter]
    fn verdict(&self) -> &'static str {
        match self.report.verdict() {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The structured report as JSON text (`json.loads` it): the verdict, each finding with its
    /// diagnosis code and its text, the notes.
    fn to_json(&self) -> String {
        self.report.to_json().to_string()
    }

    /// The op checked, as in the notes (`linear`) or as named for `check_op`.
    #[getter]
    fn op(&self) -> &str {
        &self.report.op
    }

    /// Whose backward: the Python function's name.
    #[getter]
    fn subject(&self) -> &str {
        &self.report.subject
    }

    /// Raises `AssertionError` with the whole report unless it passed: its first line is the
    /// verdict line, which pytest's short summary shows.
    fn assert_correct(&self) -> PyResult<()> {
        if self.report.passed() {
            Ok(())
        } else {
            Err(PyAssertionError::new_err(self.report.to_string()))
        }
    }

    /// The report as an HTML table, which Jupyter shows in place of the repr.
    #[pyo3(name = "_repr_html_")]
    fn repr_html(&self) -> String {
        crate::html::report(&self.report)
    }

    fn __str__(&self) -> String {
        self.report.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "<gradverify.Report {} ({}): {}>",
            self.report.op,
            self.report.subject,
            self.verdict()
        )
    }
}
