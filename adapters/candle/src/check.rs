//! [`Check`]: `OpCheck`'s builder for a function of candle tensors.
//!
//! The forward is the function on plain tensors. The VJP at inputs x and cotangents v: each
//! compared input becomes a `Var` (a `no_grad` one stays a plain tensor, its gradient reported as
//! zeros and not compared), L = Σⱼ sum(yⱼ ⊙ vⱼ) is built in candle's graph, and `L.backward()`'s
//! store gives dL/dxᵢ. A backward that answers "backward not supported", or a store without the
//! gradient of a compared input (candle's graph does not reach it), makes the op unsupported: the
//! check stops at once and says why. Any other error of candle's backward, on inputs its forward
//! accepted, is a fault of the case (a failure), as `OpCheck` reports faults.

use std::cell::RefCell;

use candle_core::{Tensor, Var};
use gradverify::check::{Domain, OpCheck};
use gradverify::verify::{Config, Fault};
use ndarray::ArrayD;

use crate::convert::{to_array, to_tensor};
use crate::outcome::CandleReport;

type Function<'a> = Box<dyn Fn(&[Tensor]) -> candle_core::Result<Vec<Tensor>> + 'a>;

/// The check of a function of candle tensors, with `OpCheck`'s options (see its docs for what
/// each means). Build it with [`check`] or [`check_multi`], then [`run`](Check::run).
pub struct Check<'a> {
    name: String,
    shapes: Vec<Vec<usize>>,
    function: Function<'a>,
    multi: bool,
    domains: Vec<(usize, Domain)>,
    points: Option<Vec<Vec<ArrayD<f64>>>>,
    no_grad: Vec<usize>,
    shrinkable: Vec<(usize, usize)>,
    names: Option<Vec<String>>,
    tolerances: Tolerances,
    fast: bool,
    config: Option<Config>,
    cases: Option<usize>,
    seed: Option<u64>,
}

/// The tolerances and steps set; `None` keeps `OpCheck`'s default.
#[derive(Default, Clone, Copy)]
struct Tolerances {
    rtol: Option<f64>,
    atol: Option<f64>,
    eps: Option<f64>,
    nondet_tol: Option<f64>,
}

/// The check of `function`, one output, at inputs of `shapes` (named `x0`, `x1`, …).
pub fn check<'a, F>(name: &str, shapes: &[&[usize]], function: F) -> Check<'a>
where
    F: Fn(&[Tensor]) -> candle_core::Result<Tensor> + 'a,
{
    let function: Function<'a> = Box::new(move |x| function(x).map(|y| vec![y]));
    Check::new(name, shapes, function, false)
}

/// The check of `function` with several outputs: L sums one random cotangent per output.
pub fn check_multi<'a, F>(name: &str, shapes: &[&[usize]], function: F) -> Check<'a>
where
    F: Fn(&[Tensor]) -> candle_core::Result<Vec<Tensor>> + 'a,
{
    Check::new(name, shapes, Box::new(function), true)
}

impl<'a> Check<'a> {
    fn new(name: &str, shapes: &[&[usize]], function: Function<'a>, multi: bool) -> Check<'a> {
        Check {
            name: name.to_owned(),
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
            function,
            multi,
            domains: Vec::new(),
            points: None,
            no_grad: Vec::new(),
            shrinkable: Vec::new(),
            names: None,
            tolerances: Tolerances::default(),
            fast: false,
            config: None,
            cases: None,
            seed: None,
        }
    }

    /// `OpCheck::domain`: input `input` is drawn and stepped inside `domain`.
    pub fn domain(mut self, input: usize, domain: Domain) -> Self {
        self.domains.push((input, domain));
        self
    }

    /// `OpCheck::points`: explicit input sets, one case each.
    pub fn points(mut self, points: Vec<Vec<ArrayD<f64>>>) -> Self {
        self.points = Some(points);
        self
    }

    /// `OpCheck::no_grad`: input `input` is not a `Var` and its gradient is not compared.
    pub fn no_grad(mut self, input: usize) -> Self {
        self.no_grad.push(input);
        self
    }

    /// `OpCheck::shrinkable`: a failing case shrinks along that axis of that input.
    pub fn shrinkable(mut self, input: usize, axis: usize) -> Self {
        self.shrinkable.push((input, axis));
        self
    }

    /// `OpCheck::names`: the inputs' names in the report.
    pub fn names(mut self, names: &[&str]) -> Self {
        self.names = Some(names.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// `OpCheck::rtol`, the tolerance that certifies (default 1e-6).
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.tolerances.rtol = Some(rtol);
        self
    }

    /// `OpCheck::atol`, which only excuses (default 0).
    pub fn atol(mut self, atol: f64) -> Self {
        self.tolerances.atol = Some(atol);
        self
    }

    /// `OpCheck::eps`, the first finite-difference step (default 0.125).
    pub fn eps(mut self, eps: f64) -> Self {
        self.tolerances.eps = Some(eps);
        self
    }

    /// `OpCheck::nondet_tol`.
    pub fn nondet_tol(mut self, tol: f64) -> Self {
        self.tolerances.nondet_tol = Some(tol);
        self
    }

    /// `OpCheck::fast`: one random projection per input and case.
    pub fn fast(mut self) -> Self {
        self.fast = true;
        self
    }

    /// `OpCheck::config`.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// `OpCheck::cases`: random cases (default 40).
    pub fn cases(mut self, cases: usize) -> Self {
        self.cases = Some(cases);
        self
    }

    /// `OpCheck::seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Runs `OpCheck` on the function: candle's forward, candle's autodiff for the VJP.
    pub fn run(&self) -> CandleReport {
        let unsupported = RefCell::new(None);
        let forward = |x: &[ArrayD<f64>]| self.forward(x);
        let backward = |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| {
            self.vjp(x, v).map_err(|failure| match failure {
                Failure::Unsupported(why) => {
                    unsupported.borrow_mut().get_or_insert(why);
                    Fault::Unsupported
                }
                Failure::Fault(fault) => fault,
            })
        };
        let shapes: Vec<&[usize]> = self.shapes.iter().map(Vec::as_slice).collect();
        // Unsupported is known at the first backward: one case says it, the rest need not run.
        let op = self.configure(OpCheck::try_multi(&self.name, &shapes, forward, backward));
        let probe = self.points.as_ref().map_or(1, |p| p.len().min(1));
        let first = self.configure_cases(op, Some(probe)).run();
        if let Some(why) = unsupported.borrow_mut().take() {
            return CandleReport::unsupported(first, why);
        }
        let op = self.configure(OpCheck::try_multi(&self.name, &shapes, forward, backward));
        let report = self.configure_cases(op, None).run();
        match unsupported.take() {
            Some(why) => CandleReport::unsupported(report, why),
            None => CandleReport::checked(report),
        }
    }

    /// Every option but the cases.
    fn configure<'c>(&self, mut op: OpCheck<'c>) -> OpCheck<'c> {
        if let Some(config) = self.config {
            op = op.config(config);
        }
        for &(input, domain) in &self.domains {
            op = op.domain(input, domain);
        }
        for &input in &self.no_grad {
            op = op.no_grad(input);
        }
        for &(input, axis) in &self.shrinkable {
            op = op.shrinkable(input, axis);
        }
        if let Some(names) = &self.names {
            op = op.names(&names.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let t = self.tolerances;
        if let Some(rtol) = t.rtol {
            op = op.rtol(rtol);
        }
        if let Some(atol) = t.atol {
            op = op.atol(atol);
        }
        if let Some(eps) = t.eps {
            op = op.eps(eps);
        }
        if let Some(tol) = t.nondet_tol {
            op = op.nondet_tol(tol);
        }
        if self.fast {
            op = op.fast();
        }
        if let Some(seed) = self.seed {
            op = op.seed(seed);
        }
        op
    }

    /// The points, or the random cases; `limit` keeps only the first ones (the probe).
    fn configure_cases<'c>(&self, mut op: OpCheck<'c>, limit: Option<usize>) -> OpCheck<'c> {
        match &self.points {
            Some(points) => {
                let n = limit.unwrap_or(points.len());
                op = op.points(points.iter().take(n).cloned().collect());
            }
            None => {
                if let Some(cases) = limit.or(self.cases) {
                    op = op.cases(cases);
                }
            }
        }
        op
    }

    /// The function's outputs on plain tensors (no graph is recorded).
    fn forward(&self, x: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> {
        let inputs = x
            .iter()
            .map(to_tensor)
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(|e| Fault::Failed(format!("candle could not hold the inputs: {}", first_line(&e))))?;
        let outputs = (self.function)(&inputs).map_err(|e| {
            Fault::Failed(format!(
                "candle: {} (inputs {})",
                first_line(&e),
                self.shapes_label()
            ))
        })?;
        self.outputs_arrays(&outputs)
    }

    fn outputs_arrays(&self, outputs: &[Tensor]) -> Result<Vec<ArrayD<f64>>, Fault> {
        if self.multi && outputs.is_empty() {
            return Err(Fault::Failed("the function returned no output".to_owned()));
        }
        outputs
            .iter()
            .enumerate()
            .map(|(j, y)| to_array(y, &format!("output {j}")).map_err(Fault::Failed))
            .collect()
    }

    /// dL/d(each input) from candle's autodiff, L = Σⱼ sum(yⱼ ⊙ vⱼ).
    fn vjp(&self, x: &[ArrayD<f64>], v: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Failure> {
        let held = |e: candle_core::Error| {
            Failure::Fault(Fault::Failed(format!(
                "candle could not hold the inputs: {}",
                first_line(&e)
            )))
        };
        let mut vars = Vec::with_capacity(x.len());
        let mut inputs = Vec::with_capacity(x.len());
        for (k, array) in x.iter().enumerate() {
            let tensor = to_tensor(array).map_err(held)?;
            if self.no_grad.contains(&k) {
                inputs.push(tensor);
                vars.push(None);
            } else {
                let var = Var::from_tensor(&tensor).map_err(held)?;
                inputs.push(var.as_tensor().clone());
                vars.push(Some(var));
            }
        }
        let outputs = (self.function)(&inputs).map_err(|e| {
            Failure::Fault(Fault::Failed(format!(
                "candle (forward with Vars): {} (inputs {})",
                first_line(&e),
                self.shapes_label()
            )))
        })?;
        if outputs.len() != v.len() {
            return Err(Failure::Fault(Fault::Failed(format!(
                "the function returned {} outputs with Vars, {} without",
                outputs.len(),
                v.len()
            ))));
        }
        let loss = self.loss(&outputs, v).map_err(|e| {
            Failure::Fault(Fault::Failed(format!(
                "candle could not form L = Σ sum(y ⊙ v): {}",
                first_line(&e)
            )))
        })?;
        let grads = loss.backward().map_err(classify)?;
        vars.iter()
            .zip(x)
            .enumerate()
            .map(|(k, (var, array))| match var {
                None => Ok(ArrayD::zeros(array.raw_dim())),
                Some(var) => match grads.get(var.as_tensor()) {
                    Some(g) => to_array(g, &format!("candle's gradient of {}", self.name_of(k)))
                        .map_err(|e| Failure::Fault(Fault::Failed(e))),
                    None => Err(Failure::Unsupported(format!(
                        "candle's graph does not reach {} (no gradient in the store: an op on the way records no backward)",
                        self.name_of(k)
                    ))),
                },
            })
            .collect()
    }

    fn loss(&self, outputs: &[Tensor], v: &[ArrayD<f64>]) -> candle_core::Result<Tensor> {
        let mut loss: Option<Tensor> = None;
        for (y, v) in outputs.iter().zip(v) {
            let term = (y * to_tensor(v)?)?.sum_all()?;
            loss = Some(match loss {
                Some(l) => (l + term)?,
                None => term,
            });
        }
        loss.ok_or_else(|| candle_core::Error::Msg("no output".to_owned()))
    }

    fn name_of(&self, k: usize) -> String {
        self.names
            .as_ref()
            .and_then(|n| n.get(k).cloned())
            .unwrap_or_else(|| format!("x{k}"))
    }

    fn shapes_label(&self) -> String {
        self.shapes
            .iter()
            .enumerate()
            .map(|(k, s)| format!("{} {s:?}", self.name_of(k)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// candle's message without the backtrace it appends when `RUST_BACKTRACE` is set.
fn first_line(error: &candle_core::Error) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Why candle gave no gradients.
enum Failure {
    /// candle cannot differentiate the op: why.
    Unsupported(String),
    /// Anything else, a fault of the case.
    Fault(Fault),
}

/// candle's "backward not supported" (its `BackwardNotSupported` error, or the message its
/// pooling and upsampling backwards bail with) is unsupported; any other error is a fault.
fn classify(error: candle_core::Error) -> Failure {
    let message = first_line(&error);
    let lower = message.to_lowercase();
    if lower.contains("backward not supported") || lower.contains("backward is not supported") {
        Failure::Unsupported(format!("candle: {message}"))
    } else {
        Failure::Fault(Fault::Failed(format!("candle's backward failed: {message}")))
    }
}
