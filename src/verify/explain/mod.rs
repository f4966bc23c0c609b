//! The diagnosis codes, each with its longer explanation (what `gradverify explain CODE`
//! prints, as `rustc --explain` does): what the code means, the notes' equation that the right
//! gradient follows, the typical wrong line and its fix.
//!
//! The codes are stable: reports (text and JSON) name a diagnosis by its code, and tests and
//! graders may match on it. The right gradients they refer to, in the notes' numbering:
//! sqerr dL/df = f − y for L = ½ Σ (f − y)² (Eq. 31b, 34b); linear dL/dh = dL/da Wᵀ (Eq. 66),
//! dL/dW = hᵀ dL/da (Eq. 70), dL/db = Σ_rows dL/da (Eq. 74); relu dL/da = Θ(a) ⊙ dL/dh (Eq. 47);
//! the network's backward Eq. 37a–f.
//!
//! Beside these generic codes, each op's home names the bugs particular to it
//! ([`crate::catalogue::Bug`], `VerifiedOp::bugs`), each with its own long text: [`codes`] and
//! [`explanation`] read them from the registry, so that a new op's bugs need no line here.

mod faults;

use super::ops;
use faults::FAULTS;

/// The codes of the diagnoses that are not one op's bug, in the order of the documentation.
const GENERIC: &[&str] = &[
    "sign",
    "factor",
    "batch_mean",
    "element_mean",
    "mse_convention",
    "loss_factor",
    "broadcast_scalar",
    "fanout_overwrite",
    "transposed",
    "zero",
    "row_zero",
    "column_zero",
    "upstream_ignored",
    "upstream_nonlinear",
    "swapped",
    "nondeterministic",
    "float32",
    "no_answer",
    "mutated_input",
];

/// Every code: the generic diagnoses in the order of the documentation, then each op's named
/// bugs in the registry's order (a code two ops share, once), then the fault codes.
pub fn codes() -> Vec<&'static str> {
    let mut codes = GENERIC.to_vec();
    for bug in ops::REGISTRY.iter().flat_map(|op| op.bugs()) {
        if !codes.contains(&bug.code) {
            codes.push(bug.code);
        }
    }
    codes.extend(FAULTS.iter().map(|(code, _)| *code));
    codes
}

/// The longer explanation of `code`, or `None` for a code that does not exist.
pub fn explanation(code: &str) -> Option<&'static str> {
    generic(code)
        .or_else(|| {
            (ops::REGISTRY.iter().flat_map(|op| op.bugs()))
                .find(|bug| bug.code == code)
                .map(|bug| bug.explain)
        })
        .or_else(|| FAULTS.iter().find(|(c, _)| *c == code).map(|(_, text)| *text))
}

/// The longer explanation of a generic code.
fn generic(code: &str) -> Option<&'static str> {
    Some(match code {
        "sign" => SIGN,
        "factor" => FACTOR,
        "batch_mean" => BATCH_MEAN,
        "element_mean" => ELEMENT_MEAN,
        "mse_convention" => MSE_CONVENTION,
        "loss_factor" => LOSS_FACTOR,
        "broadcast_scalar" => BROADCAST_SCALAR,
        "fanout_overwrite" => FANOUT_OVERWRITE,
        "transposed" => TRANSPOSED,
        "zero" => ZERO,
        "row_zero" => ROW_ZERO,
        "column_zero" => COLUMN_ZERO,
        "upstream_ignored" => UPSTREAM_IGNORED,
        "upstream_nonlinear" => UPSTREAM_NONLINEAR,
        "swapped" => SWAPPED,
        "nondeterministic" => NONDETERMINISTIC,
        "mutated_input" => MUTATED_INPUT,
        "float32" => FLOAT32,
        "no_answer" => NO_ANSWER,
        _ => return None,
    })
}

const SIGN: &str = "\
sign: the gradient has the wrong sign

You return minus the right gradient, in every element and every case. Following it
climbs the loss instead of descending it.

For the notes' loss L = ½ Σ (f − y)² (Eq. 34b) the gradient is dL/df = f − y
(Eq. 31b), and dL/dy = −(f − y) = y − f.

Typical wrong code:
    df = y - f
Fix:
    df = f - y
";

const FACTOR: &str = "\
factor: the right gradient times a constant

Every element is the right gradient times the same number c, in every case,
whatever the shape. The report names c.

What c means depends on the op, and the report says it where the op has a
meaning for it. In sqerr (and so in the network's loss), c = 2 is a missing ½:
L = ½ Σ (f − y)² (Eq. 34b) has its ½ so that it cancels the 2 of the square, and
dL/df = f − y (Eq. 31b); c = ½ is the opposite, a ½ kept after it has cancelled.

Typical wrong code:
    df = 2 * (f - y)          # sqerr: the derivative of Σ (f − y)², without the ½
Fix:
    df = f - y

In an op with no ½ to lose (linear, relu, …), any c is a number too many: find
where it enters the backward. If the factor changes with the shape, the report
shows it as a formula in B and the widths (see `batch_mean`, `element_mean`,
`mse_convention`).
";

const BATCH_MEAN: &str = "\
batch_mean: the right gradient divided by the batch size B

The loss sums over the data points, L = ½ Σ (f − y)² (Eq. 34b), so nothing in the
backward divides by B: dL/dW = hᵀ dL/da (Eq. 70), dL/db = Σ_rows dL/da (Eq. 74).
Your gradient is the right one divided by B, in every case, so it is right only
at B = 1.

Typical wrong code (the CS231n convention, where the loss is a mean):
    dW = h.T @ g / B
Fix:
    dW = h.T @ g
If you want a mean loss, put the 1/B in the loss and its gradient dL/df only,
never in a layer's backward.
";

const ELEMENT_MEAN: &str = "\
element_mean: the right gradient divided by the number of elements B·D

Your gradient is the right one divided by B·D (the number of elements of f), in
every case: a mean where the notes' loss sums, L = ½ Σ (f − y)² (Eq. 34b), whose
gradient is dL/df = f − y (Eq. 31b).

Typical wrong code:
    df = (f - y) / f.size        # or np.mean somewhere in the backward
Fix:
    df = f - y
";

const MSE_CONVENTION: &str = "\
mse_convention: the loss taken as a mean of squares

Your gradient is 2/(B·D) (or 2/B) times the right one, in every case: the
derivative of the mean squared error, mean((f − y)²), whose gradient is
2 (f − y)/(B·D). The notes' loss is L = ½ Σ (f − y)² (Eq. 34b), summed over every
element, with a ½ that cancels the square's 2: dL/df = f − y (Eq. 31b).

At B = D = 1 the factor is exactly 2, and deleting the 2 alone fails again by
1/(B·D): the report shows an example with B > 1 and D > 1.

Typical wrong code (nearly every from-scratch tutorial):
    df = 2 * (f - y) / f.size
    df = 2 * (f - y) / B
Fix:
    df = f - y
";

const LOSS_FACTOR: &str = "\
loss_factor: every parameter gradient off by one shared factor

In each case all six parameter gradients of the network (dL/dW1 … dL/db3) are the
right ones times the same factor. Each of them is linear in dL/df (backprop from
the loss down, Eq. 37a–f), so the factor comes from the loss's backward: dL/df
must be f − y for L = ½ Σ (f − y)² (Eq. 31b, 37a). Fix sqerr.backward and every
layer follows. When the factor is 2/(B·D3) or 2/B, `mse_convention` is reported
beside it.

Typical wrong code:
    df = 2 * (f - y) / f.size        # then backprop through the layers
Fix:
    df = f - y
";

const BROADCAST_SCALAR: &str = "\
broadcast_scalar: one value broadcast to every element

Every element of your gradient is the same number, where the right gradient
varies from element to element. Each element has its own derivative,
dL/df_m = ∂L/∂f_m (Eq. 36a); for sqerr that is f_m − y_m (Eq. 31b). The report says
which scalar yours matches, such as −2 × the mean of the right gradient.

Typical wrong code (the derivative of a mean loss, taken as a whole):
    df = np.full_like(f, 2 * np.mean(y - f))
Fix:
    df = f - y
";

const FANOUT_OVERWRITE: &str = "\
fanout_overwrite: contributions overwritten instead of summed

A value used in several places gets the sum of the contributions of every use:
the total derivative sums over paths (Eq. 4–10). Your gradient is one term of that
sum, the first or the last, as a loop with `=` where `+=` belongs leaves it.
For linear, a = h W + b:
    dL/dW = Σ_k h[k]ᵀ dL/da[k] = hᵀ dL/da      (Eq. 70; W is used by every row)
    dL/db = Σ_k dL/da[k]                      (Eq. 74; b is added to every row)
    dL/dh = Σ_j dL/da[:, j] W[:, j]ᵀ = dL/da Wᵀ  (Eq. 65–66; h feeds every output)
The last is wrong at B = 1 too. In micrograd-style code the same bug is
`self.grad = ...` in a `_backward` where `self.grad += ...` belongs.
The same sum in the course's ops: an embedding row used by several indices gets the
sum of their gradients, and an input that is the maximum of several overlapping pool
windows gets the sum of theirs. NumPy's `dW[idx] += dout` is this bug too: with
repeated indices fancy assignment keeps one of them; `np.add.at(dW, idx, dout)` sums.

Typical wrong code:
    for k in range(B):
        for i in range(Din):
            for j in range(Dout):
                dW[i][j] = h[k][i] * g[k][j]
    dW[idx] += dout                              # embedding, repeated idx
Fix:
                dW[i][j] += h[k][i] * g[k][j]      # dW starting at zeros
    np.add.at(dW, idx, dout)
";

const TRANSPOSED: &str = "\
transposed: the gradient's transpose

You return the transpose of the right gradient. A gradient has the shape of what
it is taken with respect to: dL/dW is Din × Dout like W, dL/dW = hᵀ dL/da (Eq. 70).

Typical wrong code:
    dW = g.T @ h
Fix:
    dW = h.T @ g
";

const ZERO: &str = "\
zero: every element is zero

The right gradient is not zero, yours is: a gradient never written (an array
allocated with zeros and returned as it is), or multiplied by a mask that is
always zero.

Typical wrong code:
    dW = np.zeros_like(W)
    return dh, dW, db            # dW never filled in
Fix:
    dW = h.T @ g                 # Eq. 70
";

const ROW_ZERO: &str = "\
row_zero: one row is zero and every other row is right

One row of your gradient (often the last) is zero where the others are right: a
loop over rows that stops one short.

Typical wrong code:
    for k in range(B - 1):
Fix:
    for k in range(B):
";

const COLUMN_ZERO: &str = "\
column_zero: one column is zero and every other column is right

One column of your gradient (often the last) is zero where the others are right: a
loop over columns that stops one short.

Typical wrong code:
    for j in range(D - 1):
Fix:
    for j in range(D):
";

const UPSTREAM_IGNORED: &str = "\
upstream_ignored: the upstream gradient is not multiplied in

A backward maps dL/d(output) to dL/d(inputs) (Eq. 28): every term carries the
upstream gradient. Yours is what an upstream gradient of all ones would give, as
if the op were the last one before the loss.

Typical wrong code:
    dW = h.T @ np.ones_like(g)
    df = f - y                      # sqerr, with grad_out not 1
Fix:
    dW = h.T @ g
    df = grad_out * (f - y)
";

const UPSTREAM_NONLINEAR: &str = "\
upstream_nonlinear: the backward is not linear in the upstream gradient

A backward maps dL/d(output) to dL/d(inputs) by the transposed Jacobian (Eq. 28):
dL/dx = Jᵀ g, linear in g. So for any two upstream gradients u, v and numbers
α, β, backward(αu + βv) = α·backward(u) + β·backward(v). The verifier calls the
backward with u, v and αu + βv (α, β random, of either sign, up to about 7 in
size) and yours broke this: it squares, clips, takes the absolute value of or
otherwise transforms the upstream gradient, or adds a term that does not carry
it. The report shows the worst elements: expected α·backward(u) + β·backward(v),
got backward(αu + βv).

Typical wrong code:
    dx = g ** 2 * dfdx            # squared upstream
    dx = np.clip(g, -1, 1) * dfdx # gradient clipping inside the op's backward
    dx = np.abs(g) * dfdx
Fix:
    dx = g * dfdx
Clip or rescale gradients in the optimiser, never inside an op's backward.
";

const SWAPPED: &str = "\
swapped: another parameter's gradient returned in this one's place

The values are right, but they belong to another parameter (the report names it):
the answer's keys, or a returned tuple, are in the wrong order.

Typical wrong code:
    return {\"W1\": dW2, \"W2\": dW1, ...}
    dh, db, dW = linear_backward(...)      # returns (dh, dW, db)
Fix:
    return {\"W1\": dW1, \"W2\": dW2, ...}
";

const NONDETERMINISTIC: &str = "\
nondeterministic: the same request gave different answers

The verifier sends the same request twice; a backward is a function of its inputs
and must give the same gradient both times. Yours did not, and nothing else went
wrong on that call: the backward keeps state between calls (a gradient
accumulated into a buffer that is never reset) or uses randomness.

Typical wrong code:
    self.dW += h.T @ g            # self.dW never zeroed between calls
    return self.dW
Fix:
    dW = h.T @ g
    return dW
";

const MUTATED_INPUT: &str = "\
mutated_input: the backward changed an array it was given

A backward reads its inputs and the upstream gradient and returns new arrays.
Yours wrote into one of the arrays it was passed (the report names which), so
the caller's array changed: in a network, the next layer's backward (or the
optimiser) then reads values that are no longer the forward's. The verifier
copies every argument before the call and compares it bit for bit after;
NumPy's indexed assignment and in-place operators write through to the caller.

Typical wrong code:
    def relu_backward(dout, x):
        dout[x <= 0] = 0          # zeroes the caller's dout
        return dout
Fix:
    def relu_backward(dout, x):
        dx = dout.copy()
        dx[x <= 0] = 0
        return dx                 # or: return dout * (x > 0)
";

const FLOAT32: &str = "\
float32: computed in float32?

Every element agrees with the right gradient to float32 precision and no better:
float32 keeps about 7 significant digits, the verifier asks for 8 by default
(--rtol 1e-8). PyTorch computes in float32 by default, NumPy when an input is
float32.

Either compute in float64:
    x = np.asarray(x, dtype=np.float64)       # torch: torch.float64
or accept float32 with gradcheck's tolerances:
    gradverify verify --exec CMD --rtol 1e-3 --atol 1e-5
(float32 inputs are themselves rounded, so elements that cancel need that much).
";

const NO_ANSWER: &str = "\
no_answer: the program gave no answer to its first request

The verifier wrote a request and no answer came back in time. The usual cause is
an unflushed standard output: written to a pipe, output is block-buffered, and an
answer waits in the program's buffer until it fills or the program exits. Flush
after every answer:

    Python   print(json.dumps(answer), flush=True)
             # or sys.stdout.flush() after each print; or run python3 -u
    C        printf(\"%s\\n\", answer); fflush(stdout);
    C++      std::cout << answer << std::endl;      // endl flushes
    Node     process.stdout.write(answer + \"\\n\");   // not held back by Node;
             // with readline, answer in on('line'), not after 'close'
    Java     System.out.println(answer); System.out.flush();
    Rust     println!(\"{answer}\");   // line-buffered: flushed at the newline;
             // after print! or a BufWriter: std::io::stdout().flush()?
    Go       fmt.Println(answer)    // os.Stdout is unbuffered; flush a bufio.Writer

Also check that the program reads one request per line and answers each at once,
rather than reading all of standard input first.
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes issue 12 asks for, named exactly so.
    const REQUIRED: [&str; 22] = [
        "sign",
        "factor",
        "batch_mean",
        "element_mean",
        "mse_convention",
        "loss_factor",
        "broadcast_scalar",
        "fanout_overwrite",
        "transposed",
        "w_not_transposed",
        "bias_not_summed",
        "zero",
        "mask_missing",
        "mask_inverted",
        "mask_from_upstream",
        "upstream_ignored",
        "misprint_32e",
        "layer_mask_missing",
        "swapped",
        "nondeterministic",
        "float32",
        "no_answer",
    ];

    #[test]
    fn every_required_code_is_listed() {
        for code in REQUIRED {
            assert!(codes().contains(&code), "{code} missing from codes()");
        }
    }

    #[test]
    fn every_code_has_an_explanation_that_starts_with_its_name() {
        for code in codes() {
            let text = explanation(code).unwrap_or_else(|| panic!("no explanation for {code}"));
            assert!(text.starts_with(&format!("{code}: ")), "{code}: {text}");
        }
    }

    #[test]
    fn codes_are_unique_and_explanations_distinct() {
        let codes = codes();
        for (i, code) in codes.iter().enumerate() {
            assert!(!codes[..i].contains(code), "{code} twice");
            let text = explanation(code);
            assert!(
                codes[..i].iter().all(|c| explanation(c) != text),
                "{code} shares a text"
            );
        }
    }

    #[test]
    fn every_explanation_but_the_programs_own_cites_an_equation_and_shows_a_fix() {
        for code in GENERIC.iter().filter(|c| {
            ![
                "no_answer",
                "nondeterministic",
                "mutated_input",
                "float32",
                "swapped",
                "zero",
                "row_zero",
                "column_zero",
            ]
            .contains(c)
        }) {
            let text = explanation(code).expect("listed");
            assert!(text.contains("Eq. "), "{code} cites no equation");
        }
        let faults: Vec<&str> = FAULTS.iter().map(|(c, _)| *c).collect();
        for code in codes()
            .iter()
            .filter(|c| **c != "no_answer" && !faults.contains(c))
        {
            let text = explanation(code).expect("listed");
            assert!(
                text.contains("Fix") || text.contains("compute in float64"),
                "{code} shows no fix"
            );
        }
    }

    #[test]
    fn no_answer_shows_the_flush_idioms() {
        let text = explanation("no_answer").expect("listed");
        for idiom in [
            "flush=True",
            "sys.stdout.flush()",
            "fflush(stdout)",
            "System.out.flush()",
            "process.stdout.write",
            "stdout().flush()",
        ] {
            assert!(text.contains(idiom), "{idiom} missing");
        }
    }

    #[test]
    fn float32_suggests_gradchecks_tolerances() {
        assert!(explanation("float32").is_some_and(|t| t.contains("--rtol 1e-3 --atol 1e-5")));
    }

    #[test]
    fn an_unknown_code_has_no_explanation() {
        assert_eq!(explanation("softmax_missing"), None);
        assert_eq!(explanation(""), None);
        assert_eq!(explanation("SIGN"), None);
    }

    #[test]
    fn every_fault_a_report_or_a_score_can_name_is_explained_with_what_to_do() {
        use crate::verify::report::Fault;
        let faults = [
            Fault::Unsupported,
            Fault::Panicked(String::new()),
            Fault::Raised(String::new()),
            Fault::TimedOut {
                seconds: 1.0,
                request_id: 0,
            },
            Fault::StoppedAnswering {
                requests: 2,
                seconds: 1.0,
            },
            Fault::Exited {
                status: String::new(),
                stderr_tail: Vec::new(),
            },
            Fault::CannotStart {
                status: String::new(),
                stderr_tail: Vec::new(),
            },
            Fault::ChildKeptStdoutOpen {
                status: String::new(),
                stderr_tail: Vec::new(),
            },
            Fault::ClosedStdout,
            Fault::ClosedStdin,
            Fault::LineTooLong { bytes: 0, limit: 0 },
            Fault::MissingKey { key: String::new() },
            Fault::Protocol(String::new()),
            Fault::Failed(String::new()),
            Fault::GaveUp {
                restarts: 3,
                last: String::new(),
            },
        ];
        // A new kind of fault must join the list above: this match has no catch-all.
        for fault in &faults {
            match fault {
                Fault::Unsupported
                | Fault::Panicked(_)
                | Fault::Raised(_)
                | Fault::TimedOut { .. }
                | Fault::StoppedAnswering { .. }
                | Fault::Exited { .. }
                | Fault::CannotStart { .. }
                | Fault::ChildKeptStdoutOpen { .. }
                | Fault::ClosedStdout
                | Fault::ClosedStdin
                | Fault::LineTooLong { .. }
                | Fault::MissingKey { .. }
                | Fault::Protocol(_)
                | Fault::Failed(_)
                | Fault::GaveUp { .. } => {}
            }
        }
        let mut kinds: Vec<String> = faults
            .iter()
            .map(|f| {
                serde_json::to_value(f).expect("plain data")["kind"]
                    .as_str()
                    .expect("a kind")
                    .to_owned()
            })
            .collect();
        kinds.extend(["out_of_time".to_owned(), "not_run".to_owned()]);
        assert_eq!(kinds.len(), FAULTS.len(), "{kinds:?}");
        for kind in &kinds {
            let text = explanation(kind).unwrap_or_else(|| panic!("`explain {kind}` has no text"));
            assert!(text.starts_with(&format!("{kind}: ")), "{text}");
            assert!(text.contains("What to do"), "{kind}: {text}");
            assert!(codes().contains(&kind.as_str()), "{kind}");
        }
    }
}
