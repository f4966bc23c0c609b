//! `gradverify_candle::check` against functions whose gradient is known to be wrong, right, or
//! missing: a verifier that passed everything would fail here.
//!
//! The wrong ones are candle custom ops (`CustomOp1`) whose forward is right and whose backward
//! is not: sin with the derivative's sign flipped, a scaling by 3 whose backward scales by 6, a
//! row reversal whose backward does not reverse (a permutation, like a transpose).

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use gradverify::check::Domain;
use gradverify_candle::{Outcome, check, check_multi};
use ndarray::{ArrayD, IxDyn};

/// `bwd(x, y, v) -> dL/dx`.
type Vjp = fn(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>;

/// Elementwise on f64 CPU storage, with `backward(x, y, v)` as its VJP (or none).
#[derive(Clone, Copy)]
struct Elementwise {
    name: &'static str,
    f: fn(f64) -> f64,
    backward: Option<Vjp>,
}

impl CustomOp1 for Elementwise {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F64(values) = storage else {
            candle_core::bail!("{} is f64 only", self.name)
        };
        let out = match layout.contiguous_offsets() {
            Some((start, end)) => values[start..end].iter().map(|&v| (self.f)(v)).collect(),
            None => candle_core::bail!("{} needs a contiguous input", self.name),
        };
        Ok((CpuStorage::F64(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        match self.backward {
            Some(backward) => backward(arg, res, grad).map(Some),
            None => Err(candle_core::Error::BackwardNotSupported { op: self.name }),
        }
    }
}

#[test]
fn a_custom_op_whose_backward_flips_the_sign_fails_with_the_sign_diagnosis() {
    let op = Elementwise {
        name: "sin_wrong_sign",
        f: f64::sin,
        backward: Some(|x, _, v| v * x.cos()?.neg()?),
    };
    let report = check("sin_wrong_sign", &[&[3, 4]], move |x| x[0].apply_op1(op))
        .cases(4)
        .run();
    match report.outcome() {
        Outcome::Fail(items) => assert!(items.iter().any(|i| i.contains("[sign]")), "{items:?}\n{report}"),
        other => panic!("expected FAIL, got {other}\n{report}"),
    }
}

#[test]
fn a_custom_op_with_a_right_backward_passes_and_a_doubled_one_fails_with_its_factor() {
    let right = Elementwise {
        name: "triple",
        f: |v| 3.0 * v,
        backward: Some(|_, _, v| v * 3.0),
    };
    let report = check("triple", &[&[2, 5]], move |x| x[0].apply_op1(right))
        .cases(3)
        .run();
    assert_eq!(report.outcome(), Outcome::Pass, "{report}");
    let doubled = Elementwise {
        name: "triple_doubled",
        f: |v| 3.0 * v,
        backward: Some(|_, _, v| v * 6.0),
    };
    let report = check("triple_doubled", &[&[2, 5]], move |x| x[0].apply_op1(doubled))
        .cases(3)
        .run();
    match report.outcome() {
        Outcome::Fail(items) => assert!(items.iter().any(|i| i.contains("factor")), "{items:?}\n{report}"),
        other => panic!("expected FAIL, got {other}\n{report}"),
    }
}

#[test]
fn a_wrong_backward_in_the_middle_of_a_graph_fails_for_the_input_before_it_only() {
    // y = sin_wrong_sign(x0) · x1: dL/dx1 = v ⊙ sin(x0) is right, dL/dx0 is not.
    let op = Elementwise {
        name: "sin_wrong_sign",
        f: f64::sin,
        backward: Some(|x, _, v| v * x.cos()?.neg()?),
    };
    let report = check("mixed", &[&[3], &[3]], move |x| x[0].apply_op1(op)? * &x[1])
        .names(&["a", "b"])
        .cases(3)
        .run();
    let Outcome::Fail(items) = report.outcome() else {
        panic!("expected FAIL\n{report}")
    };
    assert!(
        items.iter().all(|i| i.starts_with("dL/da")),
        "{items:?}\n{report}"
    );
    assert!(report.report.to_string().contains("dL/db: "), "{report}");
}

#[test]
fn a_custom_op_without_a_backward_is_unsupported_not_a_failure() {
    let op = Elementwise {
        name: "no_backward",
        f: f64::exp,
        backward: None,
    };
    let report = check("no_backward", &[&[2, 2]], move |x| x[0].apply_op1(op))
        .cases(5)
        .run();
    match report.outcome() {
        Outcome::Unsupported(why) => {
            assert!(why.contains("backward is not supported for no_backward"), "{why}")
        }
        other => panic!("expected unsupported, got {other}\n{report}"),
    }
    assert!(!report.report.implemented);
    // The probe found it out: one case, not five.
    assert_eq!(report.report.cases, 1, "{report}");
}

#[test]
fn any_other_error_of_the_backward_is_a_failure_with_candles_message() {
    let op = Elementwise {
        name: "broken_backward",
        f: f64::exp,
        backward: Some(|_, _, _| Err(candle_core::Error::Msg("shape mismatch in my_bwd".to_owned()))),
    };
    let report = check("broken_backward", &[&[2]], move |x| x[0].apply_op1(op))
        .cases(2)
        .run();
    match report.outcome() {
        Outcome::Fail(items) => assert!(
            items
                .iter()
                .any(|i| i.contains("candle's backward failed: shape mismatch in my_bwd")),
            "{items:?}"
        ),
        other => panic!("expected FAIL, got {other}\n{report}"),
    }
}

#[test]
fn an_input_the_graph_does_not_reach_is_unsupported_and_named() {
    let report = check("floor", &[&[3]], |x| x[0].floor()).names(&["w"]).run();
    match report.outcome() {
        Outcome::Unsupported(why) => assert!(why.contains("does not reach w"), "{why}"),
        other => panic!("expected unsupported, got {other}\n{report}"),
    }
}

#[test]
fn no_grad_inputs_are_plain_tensors_and_only_the_others_are_compared() {
    // floor(mask) has no gradient in candle; as no_grad it is not asked for.
    let report = check("masked", &[&[2, 3], &[2, 3]], |x| &x[0] * x[1].floor()?)
        .no_grad(1)
        .domain(1, Domain::Interval(0.5, 2.5))
        .cases(3)
        .run();
    assert_eq!(report.outcome(), Outcome::Pass, "{report}");
    assert!(
        report
            .report
            .to_string()
            .contains("dL/dx1: not compared (no_grad)"),
        "{report}"
    );
}

#[test]
fn several_outputs_explicit_points_and_fast_mode_go_through() {
    let report = check_multi("sin_cos", &[&[2, 3]], |x| {
        Ok(vec![x[0].sin()?, x[0].cos()?.sum_keepdim(1)?])
    })
    .cases(3)
    .run();
    assert_eq!(report.outcome(), Outcome::Pass, "{report}");
    let point = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.5, 1.5, 2.5]).unwrap();
    let report = check("log", &[&[3]], |x| x[0].log())
        .domain(0, Domain::Positive)
        .points(vec![vec![point]])
        .run();
    assert_eq!(report.outcome(), Outcome::Pass, "{report}");
    assert_eq!(report.report.cases, 1);
    let report = check("tanh", &[&[4, 3]], |x| x[0].tanh()).fast().cases(3).run();
    assert_eq!(report.outcome(), Outcome::Pass, "{report}");
}

#[test]
fn a_wrong_gradient_of_a_batch_shrinks_to_a_batch_of_one() {
    let op = Elementwise {
        name: "sin_wrong_sign",
        f: f64::sin,
        backward: Some(|x, _, v| v * x.cos()?.neg()?),
    };
    let report = check("sin_wrong_sign", &[&[6, 2]], move |x| x[0].apply_op1(op))
        .shrinkable(0, 0)
        .cases(2)
        .run();
    let text = report.report.to_string();
    assert!(matches!(report.outcome(), Outcome::Fail(_)), "{text}");
    assert!(text.contains("[1, 2]"), "{text}");
}

#[test]
fn user_errors_are_reported_with_the_argument_and_shape_never_a_panic() {
    // candle's own shape error, with the inputs' names and shapes.
    let report = check("bad_matmul", &[&[2, 3], &[2, 3]], |x| x[0].matmul(&x[1]))
        .cases(1)
        .run();
    let text = report.to_string();
    assert!(matches!(report.outcome(), Outcome::Fail(_)), "{text}");
    assert!(
        text.contains("x0 [2, 3], x1 [2, 3]") && text.contains("matmul"),
        "{text}"
    );
    // An output that is not f64.
    let report = check("to_f32", &[&[2, 2]], |x| x[0].to_dtype(DType::F32))
        .cases(1)
        .run();
    let text = report.to_string();
    assert!(text.contains("output 0 has dtype F32 (shape [2, 2])"), "{text}");
    // An option that names an input the function does not have.
    let report = check("exp", &[&[2]], |x| x[0].exp())
        .domain(3, Domain::Positive)
        .run();
    let text = report.to_string();
    assert!(
        text.contains(".domain(3, …): there is no input 3, the op has 1"),
        "{text}"
    );
    assert!(!report.outcome().is_pass());
}
