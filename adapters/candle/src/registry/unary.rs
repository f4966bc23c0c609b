//! Unary elementwise ops, y = f(x): the VJP is dL/dx = v ⊙ f′(x). Each is drawn where f is
//! defined and smooth: `log`, `sqrt`, `powf` on x > 0, `recip` on both sides of 0 but not at
//! it. The kinks (`abs`, `relu` and `elu` at 0, `clamp` at its bounds) are met with probability
//! zero by the draws; a step that crosses one leaves that element out, never fails it.
//! No sample is placed on a kink: there central differences converge to the mean of the two
//! one-sided slopes (½ for relu at 0, 0 for abs), which no convention of candle's need match.
//! `floor`, `ceil`, `round` record no backward in candle (their derivative is 0 almost
//! everywhere): unsupported.

use gradverify::check::Domain;

use super::{Expect, Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    let positive = |s: Sample| s.with(|c| c.domain(0, Domain::Positive));
    vec![
        sample("exp", "[3, 4]", &[&[3, 4]], |x| x[0].exp()),
        positive(sample("log", "[4, 3] x > 0", &[&[4, 3]], |x| x[0].log())),
        sample("sin", "[2, 5]", &[&[2, 5]], |x| x[0].sin()),
        sample("cos", "[5, 2]", &[&[5, 2]], |x| x[0].cos()),
        sample("tanh", "[3, 4]", &[&[3, 4]], |x| x[0].tanh()),
        sample("neg", "[7]", &[&[7]], |x| x[0].neg()),
        positive(sample("recip", "[3, 2] x > 0", &[&[3, 2]], |x| x[0].recip())),
        sample("recip", "[3, 2] x < 0", &[&[3, 2]], |x| x[0].recip())
            .with(|c| c.domain(0, Domain::Interval(-3.0, -0.25))),
        sample("sqr", "[4, 3]", &[&[4, 3]], |x| x[0].sqr()),
        positive(sample("sqrt", "[3, 4] x > 0", &[&[3, 4]], |x| x[0].sqrt())),
        sample("abs", "[3, 4]", &[&[3, 4]], |x| x[0].abs()),
        sample("gelu", "[3, 4] (tanh approximation)", &[&[3, 4]], |x| x[0].gelu())
            .expect(Expect::Defect("gelu_constants")),
        sample("gelu_erf", "[3, 4]", &[&[3, 4]], |x| x[0].gelu_erf())
            .expect(Expect::Defect("gelu_erf_constant")),
        sample("erf", "[3, 4]", &[&[3, 4]], |x| x[0].erf()),
        sample("relu", "[4, 3]", &[&[4, 3]], |x| x[0].relu()),
        sample("silu", "[3, 4]", &[&[3, 4]], |x| x[0].silu()),
        sample("elu", "[3, 4] alpha 0.7", &[&[3, 4]], |x| x[0].elu(0.7)),
        positive(sample("powf", "[2, 3] x > 0, e = 2.5", &[&[2, 3]], |x| {
            x[0].powf(2.5)
        })),
        positive(sample("powf", "[3] x > 0, e = -1.5", &[&[3]], |x| {
            x[0].powf(-1.5)
        })),
        sample("affine", "[2, 3] 1.5 x - 0.3", &[&[2, 3]], |x| {
            x[0].affine(1.5, -0.3)
        }),
        sample("clamp", "[3, 4] to [-0.5, 0.8]", &[&[3, 4]], |x| {
            x[0].clamp(-0.5, 0.8)
        }),
        sample("exp", "x used twice: exp(x) · sin(x)", &[&[2, 3]], |x| {
            x[0].exp()? * x[0].sin()?
        }),
        sample("floor", "[3]", &[&[3]], |x| x[0].floor()).expect(Expect::Unsupported),
        sample("ceil", "[3]", &[&[3]], |x| x[0].ceil()).expect(Expect::Unsupported),
        sample("round", "[3]", &[&[3]], |x| x[0].round()).expect(Expect::Unsupported),
    ]
}
