//! The defects of the pinned candle (0.11.1) that the sweep finds, each proved without
//! gradverify and without candle's autodiff: candle's gradient (through `Var` and `backward`)
//! against an explicit formula, or against central differences of a plain-Rust forward (loops
//! over the same indices), after checking that candle's forward is that same function. Each
//! test prints its reproduction (inputs, cotangent, expected, got), as the README lists them.
//!
//! When candle fixes one, its test fails here: move the sample in `src/registry/` to
//! `Expect::Pass` and drop the test and the README's entry.

use candle_core::{Device, Tensor, Var};

/// A candle tensor of `shape` with `values`.
fn tensor(values: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

/// candle's forward at `inputs` (flattened) and its VJP with cotangent `v`, or the error of its
/// backward.
fn candle_vjp(
    f: impl Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    inputs: &[(&[f64], &[usize])],
    v: &[f64],
) -> (Vec<f64>, candle_core::Result<Vec<Vec<f64>>>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|(x, s)| Var::from_tensor(&tensor(x, s)).unwrap())
        .collect();
    let xs: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&xs).unwrap();
    let forward = values(&y);
    let cotangent = tensor(v, y.dims());
    let grads = (y * cotangent).unwrap().sum_all().unwrap().backward();
    let grads = grads.map(|g| {
        vars.iter()
            .map(|var| values(g.get(var.as_tensor()).expect("candle recorded a gradient")))
            .collect()
    });
    (forward, grads)
}

/// dL/d(each input) of L = ⟨v, f(x)⟩ by central differences of a plain-Rust forward, step h.
fn central_differences(
    f: impl Fn(&[Vec<f64>]) -> Vec<f64>,
    inputs: &[&[f64]],
    v: &[f64],
    h: f64,
) -> Vec<Vec<f64>> {
    let base: Vec<Vec<f64>> = inputs.iter().map(|x| x.to_vec()).collect();
    let loss = |x: &[Vec<f64>]| f(x).iter().zip(v).map(|(y, v)| y * v).sum::<f64>();
    (0..base.len())
        .map(|k| {
            (0..base[k].len())
                .map(|i| {
                    let mut plus = base.clone();
                    plus[k][i] += h;
                    let mut minus = base.clone();
                    minus[k][i] -= h;
                    (loss(&plus) - loss(&minus)) / (2.0 * h)
                })
                .collect()
        })
        .collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    let d = max_difference(a, b);
    assert!(d <= tol, "{what}: {a:?} vs {b:?} differ by {d:e}");
}

fn report(defect: &str, inputs: &str, v: &[f64], expected: &[Vec<f64>], got: &[Vec<f64>]) {
    println!("{defect}\n  inputs {inputs}\n  cotangent {v:?}\n  expected {expected:?}\n  got      {got:?}");
}

/// erf by its Maclaurin series (for |x| ≤ 3 its terms fall below 1e-17 in double precision).
fn erf(x: f64) -> f64 {
    let (mut term, mut sum) = (x, x);
    for n in 1..80 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// defect: gelu_constants
#[test]
fn gelu_tanh_backward_uses_six_digit_constants_and_is_off_by_about_1e_minus_6() {
    // gelu(x) = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³): candle's forward uses these in f64.
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let x = [1.0, -0.5, 2.0];
    let exact: Vec<f64> = x
        .iter()
        .map(|&x: &f64| {
            let t = (k * (x + 0.044715 * x.powi(3))).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x)
        })
        .collect();
    let forward: Vec<f64> = x
        .iter()
        .map(|&x: &f64| 0.5 * x * (1.0 + (k * (x + 0.044715 * x.powi(3))).tanh()))
        .collect();
    let v = [1.0; 3];
    let (y, grads) = candle_vjp(|t| t[0].gelu(), &[(&x, &[3])], &v);
    assert_close(&y, &forward, 1e-15, "candle's gelu forward");
    let got = grads.unwrap();
    report(
        "gelu",
        "x = [1.0, -0.5, 2.0]",
        &v,
        std::slice::from_ref(&exact),
        &got,
    );
    let d = max_difference(&got[0], &exact);
    assert!(
        d > 1e-7 && d < 1e-5,
        "{d:e}: off by rounding of the constants, ~1e-6"
    );
}

/// defect: gelu_erf_constant
#[test]
fn gelu_erf_backward_uses_0_398942_for_one_over_root_two_pi() {
    // d/dx x Φ(x) = Φ(x) + x φ(x), φ(x) = e^(−x²/2)/√(2π).
    let x = [1.0, -0.5, 2.0];
    let phi = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = |x: f64| 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let exact: Vec<f64> = x.iter().map(|&x| cdf(x) + x * phi(x)).collect();
    let forward: Vec<f64> = x.iter().map(|&x| x * cdf(x)).collect();
    let v = [1.0; 3];
    let (y, grads) = candle_vjp(|t| t[0].gelu_erf(), &[(&x, &[3])], &v);
    assert_close(&y, &forward, 1e-12, "candle's gelu_erf forward");
    let got = grads.unwrap();
    report(
        "gelu_erf",
        "x = [1.0, -0.5, 2.0]",
        &v,
        std::slice::from_ref(&exact),
        &got,
    );
    // The error is (0.398942 − 1/√(2π)) x e^(−x²/2), element by element.
    let predicted: Vec<f64> = x
        .iter()
        .zip(&exact)
        .map(|(&x, e)| e + (0.398942 - 1.0 / (2.0 * std::f64::consts::PI).sqrt()) * x * (-x * x / 2.0).exp())
        .collect();
    assert_close(
        &got[0],
        &predicted,
        1e-14,
        "candle's gelu_erf gradient against the rounded constant",
    );
    assert!(max_difference(&got[0], &exact) > 1e-7);
}

/// y[b, o, t] = Σ_c,k x[b, c, t·s + k] w[o, c, k] (no padding, dilation 1).
fn conv1d(
    x: &[f64],
    w: &[f64],
    (b, c, l): (usize, usize, usize),
    (o, k): (usize, usize),
    s: usize,
) -> Vec<f64> {
    let lo = (l - k) / s + 1;
    let mut y = vec![0.0; b * o * lo];
    for bi in 0..b {
        for oi in 0..o {
            for t in 0..lo {
                for ci in 0..c {
                    for ki in 0..k {
                        y[(bi * o + oi) * lo + t] +=
                            x[(bi * c + ci) * l + t * s + ki] * w[(oi * c + ci) * k + ki];
                    }
                }
            }
        }
    }
    y
}

/// defect: conv1d_batch_channels
#[test]
fn conv1d_backward_is_wrong_for_a_batch_of_two_with_two_channels_in_and_out() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
    let w = [1.0, -1.0, 2.0, 0.5, 0.0, 1.0, -2.0, 1.0];
    let v = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let (y, grads) = candle_vjp(
        |t| t[0].conv1d(&t[1], 0, 1, 1, 1),
        &[(&x, &[2, 2, 3]), (&w, &[2, 2, 2])],
        &v,
    );
    let plain = |a: &[Vec<f64>]| conv1d(&a[0], &a[1], (2, 2, 3), (2, 2), 1);
    assert_close(
        &y,
        &plain(&[x.to_vec(), w.to_vec()]),
        1e-12,
        "candle's conv1d forward",
    );
    let expected = central_differences(plain, &[&x, &w], &v, 0.5);
    let got = grads.unwrap();
    report(
        "conv1d",
        "x [2, 2, 3] = 1..=12, w [2, 2, 2] = [1, -1, 2, 0.5, 0, 1, -2, 1]",
        &v,
        &expected,
        &got,
    );
    // dL/dx of the second batch element is wrong (through conv_transpose1d, below); dL/dw goes
    // through conv1d with a transposed kernel (below) and is wrong in the sweep's samples.
    assert!(max_difference(&got[0], &expected[0]) > 0.1, "dL/dx");
}

/// defect: conv1d_batch_channels (its two causes)
#[test]
fn conv1d_with_a_transposed_kernel_and_conv_transpose1d_with_a_batch_are_wrong_forwards() {
    // The two forwards candle's conv1d backward is made of, against plain loops.
    let x: Vec<f64> = (1..=12).map(f64::from).collect();
    let w = [1.0, -1.0, 2.0, 0.5, 0.0, 1.0, -2.0, 1.0];
    let wt = tensor(&w, &[2, 2, 2]).transpose(0, 1).unwrap(); // w'[o, c, k] = w[c, o, k]
    let w_swapped: Vec<f64> = values(&wt.contiguous().unwrap());
    let got = values(&tensor(&x, &[2, 2, 3]).conv1d(&wt, 0, 1, 1, 1).unwrap());
    let expected = conv1d(&x, &w_swapped, (2, 2, 3), (2, 2), 1);
    println!("conv1d, non-contiguous kernel: expected {expected:?}, got {got:?}");
    assert!(max_difference(&got, &expected) > 0.1);
    // conv_transpose1d: y[b, o, t + k] += x[b, c, t] w[c, o, k].
    let (b, c, l, o, k) = (2, 2, 2, 1, 2);
    let xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let ws = [1.0, 2.0, 3.0, 4.0];
    let mut expected = vec![0.0; b * o * (l + k - 1)];
    for bi in 0..b {
        for ci in 0..c {
            for oi in 0..o {
                for ti in 0..l {
                    for ki in 0..k {
                        expected[(bi * o + oi) * (l + k - 1) + ti + ki] +=
                            xs[(bi * c + ci) * l + ti] * ws[(ci * o + oi) * k + ki];
                    }
                }
            }
        }
    }
    let got = values(
        &tensor(&xs, &[b, c, l])
            .conv_transpose1d(&tensor(&ws, &[c, o, k]), 0, 0, 1, 1, 1)
            .unwrap(),
    );
    println!("conv_transpose1d x [2, 2, 2] = 1..=8, w [2, 1, 2] = 1..=4: expected {expected:?}, got {got:?}");
    assert!(max_difference(&got, &expected) > 0.1);
}

/// defect: conv2d_stride_width
#[test]
fn conv2d_backward_fails_when_height_and_width_leave_different_remainders_to_the_stride() {
    // x [1, 1, 5, 6], w [1, 1, 3, 3], stride 2: out [1, 1, 2, 2]. The input gradient's output
    // padding is computed from the height (0) and used for the width too (needs 1).
    let x: Vec<f64> = (0..30).map(|i| f64::from(i) / 10.0).collect();
    let w = [1.0; 9];
    let v = [1.0; 4];
    let (y, grads) = candle_vjp(
        |t| t[0].conv2d(&t[1], 0, 2, 1, 1),
        &[(&x, &[1, 1, 5, 6]), (&w, &[1, 1, 3, 3])],
        &v,
    );
    let plain = |a: &[Vec<f64>]| {
        let mut y = vec![0.0; 4];
        for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            for i in 0..3 {
                for j in 0..3 {
                    y[r * 2 + c] += a[0][(2 * r + i) * 6 + 2 * c + j] * a[1][i * 3 + j];
                }
            }
        }
        y
    };
    assert_close(
        &y,
        &plain(&[x.clone(), w.to_vec()]),
        1e-12,
        "candle's conv2d forward",
    );
    let expected = central_differences(plain, &[&x, &w], &v, 0.5);
    let error = grads.unwrap_err().to_string();
    println!(
        "conv2d stride 2, x [1, 1, 5, 6], w ones [1, 1, 3, 3], v ones: expected dL/dx {:?}, got the error {}",
        expected[0],
        error.lines().next().unwrap()
    );
    assert!(error.contains("shape mismatch"), "{error}");
    // The gradient exists: column 5 of x is in no window (0), the rest is covered.
    assert_eq!(expected[0][5], 0.0);
    assert_eq!(expected[0][0], 1.0);
}

/// defect: pool2d_remainder
#[test]
fn avg_pool2d_backward_spreads_into_rows_that_no_window_covers() {
    // x [1, 1, 3, 2], k = s = 2: one window, rows 0 and 1; row 2 is dropped by the forward.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let v = [1.0];
    let (y, grads) = candle_vjp(|t| t[0].avg_pool2d(2), &[(&x, &[1, 1, 3, 2])], &v);
    let plain = |a: &[Vec<f64>]| vec![a[0][..4].iter().sum::<f64>() / 4.0];
    assert_close(&y, &plain(&[x.to_vec()]), 1e-15, "candle's avg_pool2d forward");
    let expected = central_differences(plain, &[&x], &v, 0.5);
    let got = grads.unwrap();
    report(
        "avg_pool2d k = s = 2",
        "x [1, 1, 3, 2] = 1..=6",
        &v,
        &expected,
        &got,
    );
    assert_close(
        &expected[0],
        &[0.25, 0.25, 0.25, 0.25, 0.0, 0.0],
        1e-12,
        "the right gradient",
    );
    assert_close(&got[0], &[0.25; 6], 1e-12, "candle's gradient");
}

/// defect: max_pool2d_scale
#[test]
fn max_pool2d_backward_multiplies_by_the_window_size_reciprocal() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let v = [1.0];
    let (y, grads) = candle_vjp(|t| t[0].max_pool2d(2), &[(&x, &[1, 1, 2, 2])], &v);
    let plain = |a: &[Vec<f64>]| vec![a[0].iter().copied().fold(f64::MIN, f64::max)];
    assert_close(&y, &plain(&[x.to_vec()]), 0.0, "candle's max_pool2d forward");
    let expected = central_differences(plain, &[&x], &v, 0.25);
    let got = grads.unwrap();
    report(
        "max_pool2d k = s = 2",
        "x [1, 1, 2, 2] = [[1, 2], [3, 4]]",
        &v,
        &expected,
        &got,
    );
    assert_close(&expected[0], &[0.0, 0.0, 0.0, 1.0], 1e-12, "the right gradient");
    assert_close(&got[0], &[0.0, 0.0, 0.0, 0.25], 1e-12, "candle's gradient");
}

/// defect: pool2d_remainder (max)
#[test]
fn max_pool2d_backward_also_reaches_columns_that_no_window_covers() {
    // x [1, 1, 2, 3], k = s = 2: one window, columns 0 and 1; column 2 is dropped.
    let x = [1.0, 2.0, 9.0, 3.0, 4.0, 9.0];
    let v = [1.0];
    let (_, grads) = candle_vjp(|t| t[0].max_pool2d(2), &[(&x, &[1, 1, 2, 3])], &v);
    let plain = |a: &[Vec<f64>]| {
        vec![
            [a[0][0], a[0][1], a[0][3], a[0][4]]
                .into_iter()
                .fold(f64::MIN, f64::max),
        ]
    };
    let expected = central_differences(plain, &[&x], &v, 0.25);
    let got = grads.unwrap();
    report(
        "max_pool2d k = s = 2, remainder",
        "x [1, 1, 2, 3] = [[1, 2, 9], [3, 4, 9]]",
        &v,
        &expected,
        &got,
    );
    assert_close(
        &expected[0],
        &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        1e-12,
        "the right gradient",
    );
    assert!(max_difference(&got[0], &expected[0]) > 0.5, "{got:?}");
}

/// defect: upsample_overwrites
#[test]
fn upsample_nearest_backward_overwrites_the_gradient_from_the_inputs_other_uses() {
    // L = sum(upsample(x)) + sum(x): dL/dx = copies + 1 per element; candle keeps only the copies.
    let x = [0.5, -1.0];
    let v = [1.0];
    let upsampled_1d = |t: &[Tensor]| t[0].upsample_nearest1d(4)?.sum_all()? + t[0].sum_all()?;
    let upsampled_2d = |t: &[Tensor]| t[0].upsample_nearest2d(2, 4)?.sum_all()? + t[0].sum_all()?;
    for (name, shape, copies) in [
        ("upsample_nearest1d to 4", &[1, 1, 2][..], 2.0),
        ("upsample_nearest2d to (2, 4)", &[1, 1, 1, 2][..], 4.0),
    ] {
        let (_, grads) = if copies == 2.0 {
            candle_vjp(upsampled_1d, &[(&x, shape)], &v)
        } else {
            candle_vjp(upsampled_2d, &[(&x, shape)], &v)
        };
        let plain = |a: &[Vec<f64>]| vec![(copies + 1.0) * a[0].iter().sum::<f64>()];
        let expected = central_differences(plain, &[&x], &v, 0.5);
        let got = grads.unwrap();
        report(
            name,
            &format!("x {shape:?} = [0.5, -1.0], L = sum(upsample(x)) + sum(x)"),
            &v,
            &expected,
            &got,
        );
        assert_close(&expected[0], &[copies + 1.0; 2], 1e-12, "the right gradient");
        assert_close(&got[0], &[copies; 2], 1e-12, "candle's gradient");
    }
}

/// defect: scatter_add_init
#[test]
fn scatter_add_backward_masks_the_init_gradient_or_fails() {
    // out = init, then out[ids[i]] += src[i]: dL/dinit = v everywhere.
    let init = [1.0, 2.0];
    let v = [1.0, 1.0];
    let ids2 = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
    let (_, grads) = candle_vjp(
        |t| t[0].scatter_add(&ids2, &t[1], 0),
        &[(&init, &[2]), (&[5.0, 7.0], &[2])],
        &v,
    );
    let got = grads.unwrap();
    report(
        "scatter_add",
        "init [1, 2], src [5, 7], ids [1, 0]",
        &v,
        &[vec![1.0, 1.0], vec![1.0, 1.0]],
        &got,
    );
    assert_close(&got[0], &[0.0, 0.0], 0.0, "candle's dL/dinit");
    // With fewer sources than init rows, the backward's mask has the wrong shape.
    let ids1 = Tensor::new(&[1u32], &Device::Cpu).unwrap();
    let (y, grads) = candle_vjp(
        |t| t[0].scatter_add(&ids1, &t[1], 0),
        &[(&init, &[2]), (&[5.0], &[1])],
        &v,
    );
    assert_eq!(y, vec![1.0, 7.0]);
    let error = grads.unwrap_err().to_string();
    println!(
        "scatter_add init [1, 2], src [5], ids [1]: got the error {}",
        error.lines().next().unwrap()
    );
    assert!(error.contains("shape mismatch in scatter"), "{error}");
}

/// defect: scatter_init
#[test]
fn scatter_backward_passes_the_gradient_to_init_where_src_overwrote_it() {
    // out = init with out[2] = src[0]: dL/dinit = v with element 2 zeroed.
    let init = [1.0, 2.0, 3.0];
    let v = [1.0, 1.0, 1.0];
    let ids = Tensor::new(&[2u32], &Device::Cpu).unwrap();
    let (y, grads) = candle_vjp(
        |t| t[0].scatter(&ids, &t[1], 0),
        &[(&init, &[3]), (&[9.0], &[1])],
        &v,
    );
    assert_eq!(y, vec![1.0, 2.0, 9.0]);
    let plain = |a: &[Vec<f64>]| vec![a[0][0], a[0][1], a[1][0]];
    let expected = central_differences(plain, &[&init, &[9.0]], &v, 0.5);
    let got = grads.unwrap();
    report("scatter", "init [1, 2, 3], src [9], ids [2]", &v, &expected, &got);
    assert_close(&expected[0], &[1.0, 1.0, 0.0], 1e-12, "the right dL/dinit");
    assert_close(&got[0], &[1.0, 1.0, 1.0], 0.0, "candle's dL/dinit");
}

/// defect: max_tie (not a sample of the sweep: at a tie)
#[test]
fn max_at_a_tie_gives_the_whole_cotangent_to_each_maximum() {
    // Along u = (1, 1), max(x + t u) = 0.5 + t: the directional derivative is exactly 1, so any
    // gradient g that a chain rule may use satisfies ⟨g, u⟩ = 1 ((½, ½), or (1, 0)). candle's
    // reduce max (and max_keepdim, max_pool2d's mask) gives (1, 1): ⟨g, u⟩ = 2.
    let x = [0.5, 0.5];
    let (y, grads) = candle_vjp(|t| t[0].max(0), &[(&x, &[2])], &[1.0]);
    assert_eq!(y, vec![0.5]);
    let along = |t: f64| x.iter().map(|v| v + t).fold(f64::MIN, f64::max);
    let directional = (along(0.25) - along(-0.25)) / 0.5;
    assert_eq!(directional, 1.0);
    let got = grads.unwrap();
    report("max at a tie", "x = [0.5, 0.5]", &[1.0], &[vec![0.5, 0.5]], &got);
    assert_eq!(got[0].iter().sum::<f64>(), 2.0);
}
