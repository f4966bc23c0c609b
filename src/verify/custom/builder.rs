//! [`OpCheck`]: `torch.autograd.gradcheck`'s and JAX `check_grads`' options for any op.

use ndarray::{ArrayD, Dimension};

use super::case::{Outcome, fault_record};
use super::closures::{Closures, Forward, Linearised, Reference};
use super::domain::Domain;
use super::jvp::tangent_name;
use super::options::{Options, default_name};
use super::reference::{REFERENCE_RTOL, forward_name};
use super::second_order::{self, SecondOrder};
use super::shrink::Groups;
use super::tally::{REDRAWS, Tally};
use super::{alias, diagnoses, linearity, shrink, validate};
use crate::oracle::FINITE_DIFF_REL;
use crate::oracle::richardson::Steps;
use crate::random;
use crate::verify::findings::findings;
use crate::verify::report::model::gradient_label;
use crate::verify::{Config, Fault, Finding, Problem, Report, Subject};

/// The most elements one input may have: the check evaluates the forward dozens of times per
/// element.
const MAX_ELEMENTS: usize = 1 << 24;

/// The check of one op's VJP (and optionally its JVP) against finite differences of its forward,
/// with gradcheck's options. [`check::op`](super::op) is `OpCheck::new(..).run()`.
///
/// ```
/// use gradverify::check::{Domain, OpCheck};
/// use ndarray::ArrayD;
///
/// let forward = |x: &[ArrayD<f64>]| x[0].mapv(f64::log10);
/// let backward = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g / &(&x[0] * std::f64::consts::LN_10)];
/// let report = OpCheck::new("log10", &[&[3, 4]], forward, backward)
///     .domain(0, Domain::Interval(0.1, 10.0))
///     .run();
/// report.assert_correct();
/// ```
///
/// | ours | default | gradcheck | JAX `check_grads` | meaning |
/// |---|---|---|---|---|
/// | `.domain(i, d)` | `Domain::Real`, N(0,1) draws | — (you pass the inputs) | — | where input i is drawn and stepped |
/// | `.points(p)` | random draws | `inputs` | `args` | explicit input sets, one case each |
/// | `.rtol(r)` | 1e-6 | `rtol` (1e-3) | `rtol` (dtype-scaled) | certifies: `|a − e| ≤ r·max(|a|, |e|) + bound` |
/// | `.atol(a)` | 0 | `atol` (1e-5) | `atol` | only excuses: within `a` more, never certified |
/// | `.eps(h)` | 0.125 | `eps` (1e-6, its only step) | `eps` | the first step, relative to `max(1, |θ|)` |
/// | `.nondet_tol(t)` | 1e-12 per element | `nondet_tol` (0, absolute) | — | second call within `t`·max|g| |
/// | `.no_grad(i)` | all compared | `requires_grad=False` | — | input i's gradient is not compared |
/// | `.jvp(f)` | off | `check_forward_ad` | `modes=["fwd"]` | forward mode, FD and dot-product test |
/// | `.alias(i, j)` | none | — | — | inputs i, j are one array: drawn equal, `dL/dx_i + dL/dx_j` against FD of `f(x, x)` |
/// | `.second_order(h)` | off | `gradgradcheck` | `order=2` | `h(x, v, d) = d/dt VJP(x + t·d, v)` against FD of the backward |
/// | `OpCheck::multi` | one output | tuple outputs | pytree outputs | several outputs |
/// | `.fast()` | off | `fast_mode` | — | one random projection per input and case |
/// | `.forward_batch(f)`, `.forward_steps(f)` | one point per call | — | — | a round of steps per call: whole points, or steps from the case's point |
/// | `.reference(f, b)` | finite differences | — | — | an instructor's solution as the oracle, to 1e-8 |
/// | `.shrinkable(i, axis)` | none | — | — | a failing case shrinks along that axis |
/// | `.cases(n)`, `.seed(s)`, `.config(c)` | 40, 0 | — | — | random cases; the setters win over `config` |
///
/// **Tolerances.** gradcheck passes an element when `|a − e| ≤ atol + rtol·|e|`: atol alone can
/// pass a gradient that is wrong by a factor of two wherever it is small. Here `rtol` is the only
/// thing that certifies (relative to the larger of the two values, plus the finite-difference
/// estimate's own error bound), and `atol` only excuses an element (it counts as excused, not
/// certified, and a gradient where nothing was certified is inconclusive). gradcheck's
/// `nondet_tol` is absolute; ours is relative to the gradient's largest element.
///
/// **Domains.** Every finite-difference step stays inside the input's domain: near a bound the
/// steps are shorter (central differences from at most half the distance to it), and at the
/// bound itself (an explicit point) the element is not comparable. Random draws: `Real` standard
/// normal, `Positive` `exp(z)`, `Interval(a, b)` uniform.
///
/// **Findings.** A wrong gradient is diagnosed when its pattern is one that fits any op: sign
/// flipped, a constant factor, transposed, swapped with another input's, zero, a row or column
/// zero, the upstream gradient ignored; with `.shrinkable`, first shrunk to the smallest shape
/// that fails the same way.
///
/// **Always on, with no option:** each case calls the backward again on the same inputs (it must
/// repeat itself), with a zero cotangent (it must return zeros), and with two more cotangents
/// for the linearity test `VJP(αu + βv) = α·VJP(u) + β·VJP(v)` (α, β random; a failure is
/// `upstream_nonlinear`: the backward squares, clips or takes the absolute value of its upstream
/// gradient).
pub struct OpCheck<'a> {
    pub(super) name: String,
    pub(super) shapes: Vec<Vec<usize>>,
    pub(super) op: Closures<'a>,
    pub(super) options: Options,
    points: Option<Vec<Vec<ArrayD<f64>>>>,
    config: Config,
    cases: Option<usize>,
    seed: Option<u64>,
    shrinkable: Vec<(usize, usize)>,
    /// The second-order product, checked where given.
    second_order: Option<SecondOrder<'a>>,
    /// Pairs of inputs that are the same array.
    aliases: Vec<(usize, usize)>,
    /// Options that cannot be used, with why.
    misuse: Vec<String>,
}

/// Inputs, and the forward's outputs there or its fault.
pub(super) type Drawn = (Vec<ArrayD<f64>>, Result<Vec<ArrayD<f64>>, String>);

impl<'a> OpCheck<'a> {
    /// An op with one output: `forward(inputs) -> output`, `backward(inputs, dL/d(output)) ->
    /// dL/d(each input)`, inputs of the given shapes (named `x0`, `x1`, … in the report).
    pub fn new<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> OpCheck<'a>
    where
        F: Fn(&[ArrayD<f64>]) -> ArrayD<f64> + 'a,
        B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>> + 'a,
    {
        OpCheck::try_new(
            name,
            shapes,
            move |x| Ok(forward(x)),
            move |x, v| Ok(backward(x, v)),
        )
    }

    /// [`new`](Self::new) with closures that may fail to answer, as a program may: an `Err`
    /// fails the case at hand with its fault (`the forward failed: …`), as a panic does, and the
    /// check goes on.
    ///
    /// ```
    /// use gradverify::check::OpCheck;
    /// use gradverify::verify::Fault;
    /// use ndarray::ArrayD;
    ///
    /// let forward = |x: &[ArrayD<f64>]| Ok(x[0].mapv(f64::sin));
    /// let backward = |_: &[ArrayD<f64>], _: &ArrayD<f64>| Err(Fault::Failed("not written".into()));
    /// let report = OpCheck::try_new("sin", &[&[3]], forward, backward).run();
    /// assert!(report.to_string().contains("the backward failed: not written"));
    /// ```
    pub fn try_new<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> OpCheck<'a>
    where
        F: Fn(&[ArrayD<f64>]) -> Result<ArrayD<f64>, Fault> + 'a,
        B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
    {
        let forward = Box::new(move |x: &[ArrayD<f64>]| forward(x).map(|y| vec![y]));
        let backward = Box::new(move |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| backward(x, &v[0]));
        OpCheck::with_closures(name, shapes, forward, backward, false)
    }

    /// An op with several outputs: `forward(inputs) -> outputs`, `backward(inputs, &[dL/d(each
    /// output)]) -> dL/d(each input)`. L sums one random cotangent per output.
    pub fn multi<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> OpCheck<'a>
    where
        F: Fn(&[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a,
        B: Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a,
    {
        let forward = Box::new(move |x: &[ArrayD<f64>]| Ok(forward(x)));
        let backward = Box::new(move |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| Ok(backward(x, v)));
        OpCheck::with_closures(name, shapes, forward, backward, true)
    }

    /// [`multi`](Self::multi) with closures that may fail to answer, as
    /// [`try_new`](Self::try_new).
    pub fn try_multi<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> OpCheck<'a>
    where
        F: Fn(&[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
        B: Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
    {
        OpCheck::with_closures(name, shapes, Box::new(forward), Box::new(backward), true)
    }

    fn with_closures(
        name: &str,
        shapes: &[&[usize]],
        forward: Forward<'a>,
        backward: Linearised<'a>,
        multi: bool,
    ) -> OpCheck<'a> {
        OpCheck {
            name: name.to_owned(),
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
            op: Closures {
                forward,
                backward,
                jvp: None,
                forward_batch: None,
                forward_steps: None,
                multi,
                reference: None,
            },
            options: Options {
                domains: vec![Domain::Real; shapes.len()],
                rtol: FINITE_DIFF_REL,
                reference_rtol: REFERENCE_RTOL,
                atol: 0.0,
                eps: Steps::ANY_FUNCTION.first,
                nondet_tol: None,
                no_grad: vec![false; shapes.len()],
                fast: false,
                names: (0..shapes.len()).map(default_name).collect(),
            },
            points: None,
            config: Config::default(),
            cases: None,
            seed: None,
            shrinkable: Vec::new(),
            second_order: None,
            aliases: Vec::new(),
            misuse: Vec::new(),
        }
    }

    /// The inputs' names in the report (`dL/dgamma`, not `dL/dx1`), one per input in order.
    pub fn names(mut self, names: &[&str]) -> Self {
        let n = self.shapes.len();
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        if names.len() != n {
            self.misuse
                .push(format!(".names(…): {} names for {n} inputs", names.len()));
        } else if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            self.misuse
                .push(format!(".names(…): `{}` is given twice", pair[0]));
        } else {
            self.options.names = names.iter().map(|s| (*s).to_owned()).collect();
        }
        self
    }

    /// Input `input` is drawn in, and stepped inside, `domain` (default [`Domain::Real`]). Labels
    /// and one-hot rows are drawn and never stepped: the input is [`no_grad`](Self::no_grad).
    pub fn domain(mut self, input: usize, domain: Domain) -> Self {
        if self.input_exists("domain", input) {
            match domain.unusable() {
                Some(why) => self.misuse.push(format!(".domain({input}, …): {why}")),
                None => {
                    self.options.domains[input] = domain;
                    self.options.no_grad[input] |= domain.is_discrete();
                }
            }
        }
        self
    }

    /// Explicit inputs instead of random ones: each set (one array per input, shaped as given to
    /// `new`) is one case.
    pub fn points(mut self, points: Vec<Vec<ArrayD<f64>>>) -> Self {
        self.points = Some(points);
        self
    }

    /// The relative tolerance, the only one that certifies (default 1e-6; gradcheck's `rtol`).
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.set(validate::tolerance("rtol", rtol), |o, v| {
            o.rtol = v;
            o.reference_rtol = v;
        });
        self
    }

    /// The absolute tolerance, which only excuses (default 0; gradcheck's `atol`, which there
    /// also passes).
    pub fn atol(mut self, atol: f64) -> Self {
        self.set(validate::tolerance("atol", atol), |o, v| o.atol = v);
        self
    }

    /// The first finite-difference step, relative to `max(1, |θ|)` (default 0.125); a sequence
    /// of shorter ones follows. gradcheck's `eps` is its only step.
    pub fn eps(mut self, eps: f64) -> Self {
        self.set(validate::step("eps", eps), |o, v| o.eps = v);
        self
    }

    /// Two calls on the same input may differ by `tol` times the gradient's largest element
    /// (default: 1e-12 relative, element by element). gradcheck's `nondet_tol` is absolute.
    pub fn nondet_tol(mut self, tol: f64) -> Self {
        self.set(validate::tolerance("nondet_tol", tol), |o, v| {
            o.nondet_tol = Some(v)
        });
        self
    }

    /// Input `input` is not differentiated (a mask, an index): the backward still returns an
    /// array for it, which is not compared, and it is not stepped.
    pub fn no_grad(mut self, input: usize) -> Self {
        if self.input_exists("no_grad", input) {
            self.options.no_grad[input] = true;
        }
        self
    }

    /// Cases and seed from `config`, unless [`cases`](Self::cases) or [`seed`](Self::seed) say
    /// otherwise.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Random cases (default 40).
    pub fn cases(mut self, cases: usize) -> Self {
        self.cases = Some(cases);
        self
    }

    /// The seed of every case's random stream (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Forward mode too: `jvp(inputs, tangents) -> J u`, one output tangent (an array, or a
    /// `Vec` of them for [`multi`](Self::multi)), checked against finite differences along the
    /// tangent and against the VJP by the dot-product test `⟨J u, v⟩ = ⟨u, Jᵀ v⟩`.
    pub fn jvp<J, T>(self, jvp: J) -> Self
    where
        J: Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> T + 'a,
        T: Into<Tangents>,
    {
        self.try_jvp(move |x, u| Ok(jvp(x, u)))
    }

    /// [`jvp`](Self::jvp) with a closure that may fail to answer, as [`try_new`](Self::try_new).
    pub fn try_jvp<J, T>(mut self, jvp: J) -> Self
    where
        J: Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Result<T, Fault> + 'a,
        T: Into<Tangents>,
    {
        self.op.jvp = Some(Box::new(move |x: &[ArrayD<f64>], u: &[ArrayD<f64>]| {
            jvp(x, u).map(|t| t.into().0)
        }));
        self
    }

    /// Second order too (PyTorch's `gradgradcheck`, JAX `check_grads(order=2)`):
    /// `product(inputs, cotangents, directions) -> d/dt VJP(x + t·d, v)` at t = 0, one array per
    /// input (the double backward, or the Hessian of `⟨v, f⟩` times d), checked in each case
    /// against finite differences of the backward along a random direction d, as
    /// [`second_order`](super::second_order) describes. `cotangents` has one array per output
    /// (one for [`new`](Self::new)), `directions` one per input (zero for a `no_grad` input).
    ///
    /// ```
    /// use gradverify::check::OpCheck;
    /// use ndarray::ArrayD;
    ///
    /// // softplus: f' = σ, f'' = σ(1 − σ).
    /// let sigma = |x: &ArrayD<f64>| x.mapv(|v| 1.0 / (1.0 + (-v).exp()));
    /// let forward = |x: &[ArrayD<f64>]| x[0].mapv(|v| v.exp().ln_1p());
    /// let backward = move |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &sigma(&x[0])];
    /// let second = move |x: &[ArrayD<f64>], v: &[ArrayD<f64>], d: &[ArrayD<f64>]| {
    ///     let s = sigma(&x[0]);
    ///     vec![&v[0] * &(&s * &s.mapv(|s| 1.0 - s)) * &d[0]]
    /// };
    /// OpCheck::new("softplus", &[&[3, 4]], forward, backward)
    ///     .second_order(second)
    ///     .run()
    ///     .assert_correct();
    /// ```
    pub fn second_order<H>(self, product: H) -> Self
    where
        H: Fn(&[ArrayD<f64>], &[ArrayD<f64>], &[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a,
    {
        self.try_second_order(move |x, v, d| Ok(product(x, v, d)))
    }

    /// [`second_order`](Self::second_order) with a closure that may fail to answer, as
    /// [`try_new`](Self::try_new) (a program asked over the wire).
    pub fn try_second_order<H>(mut self, product: H) -> Self
    where
        H: Fn(&[ArrayD<f64>], &[ArrayD<f64>], &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
    {
        self.second_order = Some(Box::new(product));
        self
    }

    /// Inputs `first` and `second` are the same array (a value used twice, `f(x, x)`): every
    /// case draws them equal (explicit points must have them equal), and checks that the
    /// gradient of the shared array, `dL/dx_first + dL/dx_second`, is the derivative of the op
    /// along both at once, as [`alias`](super::alias) describes (it matters where the op has a
    /// kink on the diagonal, as `max(x, y)` at a tie). Both must have the same shape, domain and
    /// shrinkable axes, and neither may be `no_grad`.
    pub fn alias(mut self, first: usize, second: usize) -> Self {
        let option = format!("alias({first}, {second})");
        if self.input_exists("alias", first) && self.input_exists("alias", second) {
            let (a, b) = (&self.shapes[first], &self.shapes[second]);
            if first == second {
                self.misuse
                    .push(format!(".{option}: an input is always the same array as itself"));
            } else if a != b {
                self.misuse.push(format!(
                    ".{option}: {} has shape {a:?} and {} {b:?}: the same array has one shape",
                    self.options.name(first),
                    self.options.name(second)
                ));
            } else {
                self.aliases.push((first, second));
            }
        }
        self
    }

    /// The forward at many points in one call: `batch(points) -> outputs of each point` (a list
    /// of outputs per point, as the forward of [`multi`](Self::multi) gives them). Finite
    /// differences then run each block of elements' step sequences in lock-step and ask for a
    /// whole round of steps at once: the same points as one by one, in far fewer calls, for a
    /// forward whose every call has a cost of its own (a request to another program). The
    /// single-point forward is still used for the case's own outputs.
    pub fn forward_batch<F>(mut self, batch: F) -> Self
    where
        F: Fn(&[Vec<ArrayD<f64>>]) -> Result<Vec<Vec<ArrayD<f64>>>, Fault> + 'a,
    {
        self.op.forward_batch = Some(Box::new(batch));
        self
    }

    /// A forward that answers compact steps: `forward_steps(base, cotangents, steps) -> one
    /// difference per step` ([`Step`](super::Step), [`StepDifference`](super::StepDifference):
    /// for each step, the term-wise `Σ vⱼ (f(plus)ⱼ − f(minus)ⱼ)` and its magnitude, the base
    /// point moved at one element). The element-by-element estimates (the first look and the
    /// Richardson rounds) then ask it, a whole round of steps per call, instead of sending
    /// whole points: O(n) numbers per check instead of O(n²) for a program over the wire. The
    /// case's own forward, the forward mode, the fast mode, the Taylor second opinion and
    /// aliased inputs still use the forward (or [`forward_batch`](Self::forward_batch)).
    pub fn forward_steps<F>(mut self, steps: F) -> Self
    where
        F: Fn(&[ArrayD<f64>], &[ArrayD<f64>], &[super::Step]) -> Result<Vec<super::StepDifference>, Fault>
            + 'a,
    {
        self.op.forward_steps = Some(Box::new(steps));
        self
    }

    /// A reference implementation as the oracle (an instructor's solution): `forward(inputs) ->
    /// outputs` and `backward(inputs, cotangents) -> gradients`, shaped as
    /// [`try_multi`](Self::try_multi)'s. Each case compares the op's gradients with the
    /// reference's under the same cotangent, and its forward's outputs with the reference's
    /// (`forward y`), to 1e-8 relative unless [`rtol`](Self::rtol) is given, instead of with
    /// finite differences ([`reference`](super::reference) has the floor near zero). Fast mode
    /// does not apply. Check the reference itself by finite differences first: a wrong one makes
    /// right answers fail.
    pub fn reference<F, B>(mut self, forward: F, backward: B) -> Self
    where
        F: Fn(&[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
        B: Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a,
    {
        self.op.reference = Some(Reference {
            forward: Box::new(forward),
            backward: Box::new(backward),
        });
        self
    }

    /// Fast mode: one random projection per input and case instead of one finite difference per
    /// element (gradcheck's `fast_mode`); what it can miss is in [`fast`](super::fast)'s docs.
    pub fn fast(mut self) -> Self {
        self.options.fast = true;
        self
    }

    /// Axis `axis` of input `input` may shrink (a batch axis, say): a failing case is shrunk to
    /// the smallest failing length. Marked axes of the same length shrink together.
    pub fn shrinkable(mut self, input: usize, axis: usize) -> Self {
        if self.input_exists("shrinkable", input) {
            let rank = self.shapes[input].len();
            if validate::axis("shrinkable", axis, &self.shapes[input]).is_ok() {
                self.shrinkable.push((input, axis));
            } else {
                self.misuse.push(format!(
                    ".shrinkable({input}, {axis}): {} has {rank} axes (shape {:?})",
                    self.options.name(input),
                    self.shapes[input]
                ));
            }
        }
        self
    }

    fn input_exists(&mut self, option: &str, input: usize) -> bool {
        let n = self.shapes.len();
        let exists = validate::input(option, input, n).is_ok();
        if !exists {
            self.misuse.push(format!(
                ".{option}({input}, …): there is no input {input}, the op has {n}"
            ));
        }
        exists
    }

    /// Sets a validated value, or keeps its misuse (`.rtol(-1): expected a finite value ≥ 0`).
    fn set(&mut self, valid: crate::Result<f64>, apply: fn(&mut Options, f64)) {
        match valid {
            Ok(value) => apply(&mut self.options, value),
            Err(error) => {
                let (option, value, expected) = validate::parts(&error);
                self.misuse
                    .push(format!(".{option}({value}): expected {expected}"));
            }
        }
    }

    /// Runs every case and reports.
    pub fn run(&self) -> Report {
        let cases = self
            .points
            .as_ref()
            .map_or(self.cases.unwrap_or(self.config.cases), Vec::len);
        let seed = self.seed.unwrap_or(self.config.seed);
        let mut report = Report {
            given_points: self.points.is_some(),
            ..Report::new("your forward and backward", &self.name, cases)
        };
        let label = shapes_label(&self.shapes);
        if let Some(why) = self.unusable() {
            report.findings.push(unusable_finding(&label, why));
            return report;
        }
        let groups = shrink::groups(&self.shapes, &self.shrinkable);
        let dims = groups.lengths();
        let mut outcomes = Vec::with_capacity(cases);
        let mut not_finite = 0;
        let mut second_opinion = None;
        for index in 0..cases {
            let mut rng = random::case_rng(seed, index as u64);
            let drawn = match &self.points {
                Some(points) => self.at_point(&points[index]),
                None => self.draw(&self.shapes, &mut rng),
            };
            let Some(outcome) = self.run_case(drawn, &mut rng, (&dims, &label)) else {
                not_finite += 1;
                continue;
            };
            if second_opinion.is_none() && outcome.record.outcome.is_ok() {
                second_opinion = self.taylor(&outcome.inputs, &mut rng);
            }
            outcomes.push(outcome);
        }
        self.report(&mut report, &outcomes, &groups, seed);
        let notes = self.tally_notes(&mut report, &outcomes, not_finite, cases);
        report.notes.extend(notes);
        if let Some(taylor) = second_opinion {
            report.notes.push(taylor.to_string());
        }
        report
    }

    /// The findings of all cases, shrunk and diagnosed, and the dot-product test's.
    fn report(&self, report: &mut Report, outcomes: &[Outcome], groups: &Groups, seed: u64) {
        let records: Vec<_> = outcomes.iter().map(|o| o.record.clone()).collect();
        let mut names: Vec<String> = self.options.compared().map(|k| self.options.name(k)).collect();
        let outputs = outcomes.iter().map(|o| o.cotangents.len()).find(|&n| n > 0);
        if self.op.jvp.is_some() {
            names.extend((0..outputs.unwrap_or(1)).map(|j| tangent_name(j, outputs.unwrap_or(1))));
        }
        if self.op.reference.is_some() {
            names.extend((0..outputs.unwrap_or(1)).map(|j| forward_name(j, outputs.unwrap_or(1))));
        }
        if self.second_order.is_some() {
            names.extend(
                self.options
                    .compared()
                    .map(|k| second_order::name(&self.options.name(k))),
            );
        }
        names.extend(self.aliases.iter().map(|&pair| alias::name(&self.options, pair)));
        let mut shrinker = |start: &_, what: &_| {
            groups.shrunk(&self.shapes, (start, what), seed, |shapes, dims, rng| {
                let drawn = self.draw(shapes, rng);
                self.run_case(drawn, rng, (dims, &shapes_label(shapes)))
                    .map(|outcome| outcome.record)
            })
        };
        // Closures answer or fail at once: no_answer is a program's diagnosis.
        report.findings = findings(&records, &names, &mut shrinker, true);
        diagnoses::more(&mut report.findings, outcomes, &self.op, &self.options, seed);
        let nonlinear = linearity::findings(&report.findings, outcomes, &self.op, &self.options, seed);
        report.findings.extend(nonlinear);
        let broken: Vec<_> = outcomes
            .iter()
            .filter_map(|o| o.dot.filter(|d| !d.holds()).map(|d| (o, d)))
            .collect();
        if let Some((first, dot)) = broken.first() {
            report.findings.push(Finding {
                what: Subject::Gradients(names),
                problem: Problem::Fault(Fault::Failed(dot.to_string())),
                failed: broken.len(),
                smallest_shape: first.record.shape.clone(),
                worst: Vec::new(),
                values: None,
                diagnosis: None,
                only_batch_of_one: false,
            });
        }
    }

    /// Per gradient (and output tangent): a note with its tally, or an inconclusive verdict.
    fn tally_notes(
        &self,
        report: &mut Report,
        outcomes: &[Outcome],
        not_finite: usize,
        cases: usize,
    ) -> Vec<String> {
        let call_failed = report.findings.iter().any(|f| matches!(f.what, Subject::Call));
        let mut tallies: Vec<(String, Tally)> = Vec::new();
        for (name, comparison) in outcomes.iter().flat_map(|o| &o.comparisons) {
            let at = match tallies.iter().position(|(n, _)| n == name) {
                Some(at) => at,
                None => {
                    // Fast mode projects the gradients only, not the JVP or the second order.
                    let gradient = self.options.compared().any(|k| self.options.name(k) == *name);
                    let reference = self.op.reference.is_some();
                    let projections = self.options.fast && gradient && !reference;
                    let oracle = if reference {
                        "the reference"
                    } else {
                        "finite differences"
                    };
                    tallies.push((name.clone(), Tally::counting(projections, oracle)));
                    tallies.len() - 1
                }
            };
            tallies[at].1.add(comparison);
        }
        let mut notes = Vec::new();
        // A gradient (or second-order product) with nothing certified or failed is inconclusive.
        let judge = |name: String, report: &mut Report, notes: &mut Vec<String>| {
            let label = gradient_label(&name);
            let tally = tallies
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .unwrap_or_default();
            if tally.undecided() && !call_failed {
                report
                    .inconclusive
                    .push(tally.inconclusive(label, not_finite, cases));
            } else if tally.compared() > 0 {
                notes.push(format!("{label}: {tally}"));
            }
        };
        for k in 0..self.shapes.len() {
            let name = self.options.name(k);
            if self.options.no_grad[k] {
                notes.push(format!("dL/d{name}: not compared (no_grad)"));
                continue;
            }
            judge(name, report, &mut notes);
        }
        for (name, tally) in tallies.iter().filter(|(n, _)| n.starts_with("jvp")) {
            notes.push(format!("{name} (J u, forward mode): {tally}"));
        }
        for k in self.options.compared().filter(|_| self.second_order.is_some()) {
            judge(second_order::name(&self.options.name(k)), report, &mut notes);
        }
        for &pair in &self.aliases {
            judge(alias::name(&self.options, pair), report, &mut notes);
        }
        notes
    }

    /// Why the check cannot run, if it cannot.
    fn unusable(&self) -> Option<String> {
        let shapes = &self.shapes;
        if shapes.is_empty() || shapes.iter().any(|s| s.contains(&0)) {
            return Some("give at least one input, with every dimension at least 1".to_owned());
        }
        if let Some(why) = shapes.iter().enumerate().find_map(|(k, s)| {
            let n = s.iter().try_fold(1_usize, |n, &d| n.checked_mul(d));
            n.is_none_or(|n| n > MAX_ELEMENTS).then(|| {
                format!(
                    "{} would have more than {MAX_ELEMENTS} elements (the most one input may have)",
                    self.options.name(k)
                )
            })
        }) {
            return Some(why);
        }
        if let Some(misuse) = self.misuse.first() {
            return Some(format!("the option {misuse}"));
        }
        if validate::some_gradient(&self.options.no_grad).is_err() {
            return Some("every input is no_grad: there is no gradient to compare".to_owned());
        }
        if let Some(why) = self.unusable_aliases() {
            return Some(why);
        }
        self.points.as_ref().and_then(|p| self.unusable_points(p))
    }

    /// Why an aliased pair cannot be checked as given with the other options, if it cannot.
    fn unusable_aliases(&self) -> Option<String> {
        self.aliases.iter().find_map(|&(i, j)| {
            let (a, b) = (self.options.name(i), self.options.name(j));
            let axes = |k: usize| {
                let mut axes: Vec<usize> = (self.shrinkable.iter())
                    .filter(|(input, _)| *input == k)
                    .map(|(_, axis)| *axis)
                    .collect();
                axes.sort_unstable();
                axes
            };
            let why = if self.options.no_grad[i] || self.options.no_grad[j] {
                format!("{a} or {b} is no_grad: the shared array's gradient needs both")
            } else if self.options.domains[i] != self.options.domains[j] {
                let (d, e) = (self.options.domains[i], self.options.domains[j]);
                format!("{a} is drawn in {d} and {b} in {e}: the same array has one domain")
            } else if axes(i) != axes(j) {
                format!("{a} and {b} have different shrinkable axes: the same array shrinks as one")
            } else {
                return None;
            };
            Some(format!("the option .alias({i}, {j}): {why}"))
        })
    }

    /// Why the explicit points cannot be used, if they cannot.
    fn unusable_points(&self, points: &[Vec<ArrayD<f64>>]) -> Option<String> {
        if points.is_empty() {
            return Some(".points(…) is empty: give at least one set of inputs".to_owned());
        }
        points.iter().enumerate().find_map(|(p, point)| {
            if point.len() != self.shapes.len() {
                return Some(format!(
                    "point {p} has {} arrays, expected one per input ({})",
                    point.len(),
                    self.shapes.len()
                ));
            }
            if let Some(why) = alias::untied(point, &self.aliases, &self.options) {
                return Some(format!("point {p}: {why}"));
            }
            point
                .iter()
                .zip(&self.shapes)
                .enumerate()
                .find_map(|(k, (x, shape))| {
                    if x.shape() != shape.as_slice() {
                        return Some(format!(
                            "point {p}: {} has shape {:?}, expected {shape:?}",
                            self.options.name(k),
                            x.shape()
                        ));
                    }
                    let domain = self.options.domains[k];
                    x.indexed_iter().find(|(_, v)| !domain.admits(**v)).map(|(i, v)| {
                        format!(
                            "point {p}: {}{:?} is {v}, outside {domain} (expected a finite value inside)",
                            self.options.name(k),
                            i.slice()
                        )
                    })
                })
        })
    }

    /// The forward at an explicit point; `None` where it is NaN or infinite.
    fn at_point(&self, point: &[ArrayD<f64>]) -> Option<Drawn> {
        match self.op.outputs(point) {
            Ok(out) if all_finite(&out) => Some((point.to_vec(), Ok(out))),
            Ok(_) => None,
            Err(message) => Some((point.to_vec(), Err(message))),
        }
    }

    /// Inputs of `shapes` drawn in their domains where the forward is finite (drawn again up to
    /// [`REDRAWS`] times) and its outputs, or the forward's fault; `None` if it stayed NaN or
    /// infinite.
    fn draw(&self, shapes: &[Vec<usize>], rng: &mut rand_chacha::ChaCha8Rng) -> Option<Drawn> {
        for _ in 0..=REDRAWS {
            let mut inputs: Vec<ArrayD<f64>> = shapes
                .iter()
                .zip(&self.options.domains)
                .map(|(s, d)| d.draw(s, &mut *rng))
                .collect();
            alias::tie(&mut inputs, &self.aliases);
            match self.op.outputs(&inputs) {
                Ok(out) if all_finite(&out) => return Some((inputs, Ok(out))),
                Ok(_) => continue,
                Err(message) => return Some((inputs, Err(message))),
            }
        }
        None
    }

    /// One case from drawn inputs; `None` when there were none.
    fn run_case(
        &self,
        drawn: Option<Drawn>,
        rng: &mut rand_chacha::ChaCha8Rng,
        (dims, label): (&[usize], &str),
    ) -> Option<Outcome> {
        let (inputs, outputs) = drawn?;
        Some(match outputs {
            Ok(outputs) => {
                let mut outcome = self
                    .op
                    .check_case(inputs, &outputs, rng, (dims, label), &self.options);
                alias::check(&self.op, &self.aliases, &mut outcome, &self.options);
                if let Some(product) = &self.second_order {
                    second_order::check(&self.op, product, &mut outcome, rng, &self.options);
                }
                outcome
            }
            Err(fault) => Outcome {
                record: fault_record(dims, label, fault),
                comparisons: Vec::new(),
                dot: None,
                inputs,
                cotangents: Vec::new(),
            },
        })
    }
}

/// What a JVP returns: one output tangent (an array) or one per output (a `Vec`).
#[derive(Debug, Clone)]
pub struct Tangents(Vec<ArrayD<f64>>);

impl From<ArrayD<f64>> for Tangents {
    fn from(tangent: ArrayD<f64>) -> Self {
        Tangents(vec![tangent])
    }
}

impl From<Vec<ArrayD<f64>>> for Tangents {
    fn from(tangents: Vec<ArrayD<f64>>) -> Self {
        Tangents(tangents)
    }
}

fn all_finite(outputs: &[ArrayD<f64>]) -> bool {
    outputs.iter().all(|o| o.iter().all(|v| v.is_finite()))
}

/// `[3, 4], [4]` for reports.
pub(super) fn shapes_label(shapes: &[Vec<usize>]) -> String {
    shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unusable_finding(label: &str, why: String) -> Finding {
    Finding {
        what: Subject::Shapes,
        problem: Problem::Fault(Fault::Failed(format!(
            "the input shapes [{label}] cannot be checked: {why}"
        ))),
        failed: 0,
        smallest_shape: label.to_owned(),
        worst: Vec::new(),
        values: None,
        diagnosis: None,
        only_batch_of_one: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Arrays = [ArrayD<f64>];

    fn sin(x: &Arrays) -> ArrayD<f64> {
        x[0].mapv(f64::sin)
    }

    /// The one finding of `report`, which must be a fault of the call in every case.
    fn call_fault(report: &Report, cases: usize) -> String {
        assert_eq!(report.findings.len(), 1, "{report}");
        let finding = &report.findings[0];
        assert_eq!(finding.what, Subject::Call, "{report}");
        assert_eq!(finding.failed, cases, "{report}");
        match &finding.problem {
            Problem::Fault(Fault::Failed(message)) => message.clone(),
            other => panic!("expected a failed call, got {other:?}"),
        }
    }

    #[test]
    fn a_batch_forward_gives_the_same_report_in_far_fewer_calls() {
        use std::cell::Cell;
        let (calls, points) = (Cell::new(0), Cell::new(0));
        let backward = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(f64::cos)];
        let one_by_one = OpCheck::new("sin", &[&[3, 4]], sin, backward).cases(3).run();
        let batched = OpCheck::new("sin", &[&[3, 4]], sin, backward)
            .forward_batch(|batch: &[Vec<ArrayD<f64>>]| {
                calls.set(calls.get() + 1);
                points.set(points.get() + batch.len());
                Ok(batch.iter().map(|x| vec![sin(x)]).collect())
            })
            .cases(3)
            .run();
        assert_eq!(batched, one_by_one);
        assert!(batched.passed(), "{batched}");
        // Each round of a case's 12 sequences is one call: a handful of rounds, not one call
        // per point.
        assert!(
            calls.get() * 8 <= points.get(),
            "{} calls for {} points",
            calls.get(),
            points.get()
        );
        let wrong = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(f64::sin)];
        let failing = OpCheck::new("sin", &[&[3, 4]], sin, wrong)
            .forward_batch(|batch: &[Vec<ArrayD<f64>>]| Ok(batch.iter().map(|x| vec![sin(x)]).collect()))
            .cases(3)
            .run();
        assert!(!failing.passed(), "{failing}");
        let short = OpCheck::new("sin", &[&[2]], sin, backward)
            .forward_batch(|_: &[Vec<ArrayD<f64>>]| Ok(Vec::new()))
            .cases(1)
            .run();
        assert!(
            short.to_string().contains("the forward answered 0 of a batch of"),
            "{short}"
        );
    }

    /// `forward` answering steps in-process, counting its calls and steps.
    fn answering_steps<'f>(
        forward: &'f dyn Fn(&Arrays) -> ArrayD<f64>,
        calls: &'f std::cell::Cell<usize>,
    ) -> impl Fn(&Arrays, &Arrays, &[super::super::Step]) -> Result<Vec<super::super::StepDifference>, Fault> + 'f
    {
        use super::super::StepDifference;
        move |base, cotangents, steps| {
            calls.set(calls.get() + 1);
            let at = |step, value| vec![forward(&StepDifference::moved(base, step, value))];
            Ok((steps.iter())
                .map(|s| StepDifference::between(&at(s, s.plus), &at(s, s.minus), cotangents))
                .collect())
        }
    }

    #[test]
    fn a_forward_answering_steps_gives_the_same_report_in_a_few_calls() {
        let calls = std::cell::Cell::new(0);
        let right = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(f64::cos)];
        let wrong = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(f64::sin)];
        for backward in [right, wrong] {
            let whole_points = OpCheck::new("sin", &[&[3, 4]], sin, backward).cases(3).run();
            let steps = OpCheck::new("sin", &[&[3, 4]], sin, backward)
                .forward_steps(answering_steps(&sin, &calls))
                .cases(3)
                .run();
            assert_eq!(steps, whole_points);
        }
        // A call per round of steps, every element of a case in it: the first look's two rounds
        // (and a few more) per right case, a round per step of the whole sequence per wrong one.
        assert!(
            calls.get() > 0 && calls.get() <= 3 * 2 + 60,
            "{} calls",
            calls.get()
        );
        let short = OpCheck::new("sin", &[&[2]], sin, right)
            .forward_steps(|_: &Arrays, _: &Arrays, _: &[super::super::Step]| Ok(Vec::new()))
            .cases(1)
            .run();
        assert!(
            short.to_string().contains("the forward answered 0 of 2 steps"),
            "{short}"
        );
    }

    #[test]
    fn named_inputs_are_named_in_the_report_and_a_wrong_count_is_a_misuse() {
        let forward = |x: &Arrays| &x[0] * &x[1];
        let wrong_gamma = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[1], v * &x[1]];
        let report = OpCheck::new("scale", &[&[3], &[3]], forward, wrong_gamma)
            .names(&["x", "gamma"])
            .cases(2)
            .run()
            .to_string();
        assert!(report.contains("dL/dgamma: wrong values"), "{report}");
        assert!(
            !report.contains("dL/dx: wrong") && !report.contains("x1"),
            "{report}"
        );
        let right = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[1], v * &x[0]];
        let misuse = OpCheck::new("scale", &[&[3], &[3]], forward, right)
            .names(&["x"])
            .run()
            .to_string();
        assert!(misuse.contains(".names(…): 1 names for 2 inputs"), "{misuse}");
    }

    #[test]
    fn a_fallible_backward_that_fails_fails_each_case_with_its_fault_not_a_panic() {
        let backward = |_: &Arrays, _: &ArrayD<f64>| Err(Fault::Failed("no gradient today".to_owned()));
        let report = OpCheck::try_new("sin", &[&[3]], |x| Ok(sin(x)), backward)
            .cases(4)
            .run();
        assert_eq!(call_fault(&report, 4), "the backward failed: no gradient today");
    }

    #[test]
    fn a_fallible_forward_or_jvp_that_fails_names_itself_and_a_panic_stays_a_panic() {
        let backward = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
        let timed_out = |_: &Arrays| {
            Err(Fault::TimedOut {
                seconds: 2.0,
                request_id: 7,
            })
        };
        let report = OpCheck::try_new("sin", &[&[3]], timed_out, |x, g| Ok(backward(x, g)))
            .cases(2)
            .run();
        let expected = "the forward failed: no answer within 2 s (request id 7)";
        assert_eq!(call_fault(&report, 2), expected);

        let unwritten =
            |_: &Arrays, _: &Arrays| Err::<ArrayD<f64>, _>(Fault::Failed("not written".to_owned()));
        let report = OpCheck::new("sin", &[&[3]], sin, backward)
            .try_jvp(unwritten)
            .cases(2)
            .run();
        assert_eq!(call_fault(&report, 2), "the jvp failed: not written");

        let panicking = |_: &Arrays, _: &ArrayD<f64>| -> Vec<ArrayD<f64>> { panic!("index 3 of 3") };
        let report = OpCheck::new("sin", &[&[3]], sin, panicking).cases(2).run();
        assert_eq!(call_fault(&report, 2), "the backward panicked: index 3 of 3");
    }
}
