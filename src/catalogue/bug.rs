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
    /// Where one bug has several instances (the network's missing mask, of layer 1 or 2): the
    /// instance's parameter by name, shown in the JSON beside the code (`"layer": 2`).
    pub parameter: Option<(&'static str, usize)>,
}

impl Bug {
    /// Whether the summary itself says why a batch of one passes (the bias taken from the first
    /// data point), so that a report need not add it.
    pub fn says_batch_of_one_passes(&self) -> bool {
        self.summary.contains(BATCH_OF_ONE)
    }
}

/// How a summary says that the bug hides at B = 1.
pub const BATCH_OF_ONE: &str = "correct only when B = 1";
