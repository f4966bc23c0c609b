//! A bug students write in one op's backward, described once as data in that op's home: its
//! stable code (shown in reports, the JSON and the CSV, and what `gradverify explain CODE`
//! takes), the sentence a report prints when it is recognised, and the longer explanation (the
//! right formula, the typical wrong line, the fix).
//!
//! The prediction of what the bug returns for a case lives beside it, in the op's hypotheses;
//! the generic diagnoses (a flipped sign, a constant factor, a transpose) are not bugs of an op.

/// One op's named bug.
#[derive(Debug, PartialEq, Eq)]
pub struct Bug {
    /// Its stable code, e.g. `onehot_missing`.
    pub code: &'static str,
    /// What the bug is and what is right instead, in one sentence, for reports.
    pub summary: &'static str,
    /// The longer text of `gradverify explain CODE`: the formula, the typical wrong line, the fix.
    pub explain: &'static str,
}
