//! `cargo bench`: the speed workloads at the sizes of the peers' figures (issue "Speed"),
//! the same code as `gradverify bench`.

use divan::Bencher;
use gradverify::bench::{self, SWEEP_CASES};
use gradverify::mlp;
use gradverify::oracle::projection;
use gradverify::random;
use gradverify::sweep;
use gradverify::tape::Wrt;

/// The allocator of the `gradverify` binary, so that both measure the same thing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// The loss and all six parameter gradients, at (B, D).
#[divan::bench(args = [(32, 64), (256, 1024)])]
fn forward_backward(bencher: Bencher, (batch, width): (usize, usize)) {
    let (params, x, y) = bench::network(batch, width);
    bencher.bench_local(|| mlp::loss_and_grads(&params, &x, &y, Wrt::Params).unwrap());
}

/// The forward pass alone: recording the network on a tape, at (B, D).
#[divan::bench(args = [(32, 64), (256, 1024)])]
fn forward(bencher: Bencher, (batch, width): (usize, usize)) {
    let (params, x, y) = bench::network(batch, width);
    bencher.bench_local(|| mlp::record(&params, x.view(), y.view()).unwrap());
}

/// The backward pass alone: walking a recorded tape for the six parameter gradients, at (B, D).
#[divan::bench(args = [(32, 64), (256, 1024)])]
fn backward(bencher: Bencher, (batch, width): (usize, usize)) {
    let (params, x, y) = bench::network(batch, width);
    let net = mlp::record(&params, x.view(), y.view()).unwrap();
    bencher.bench_local(|| net.tape.backward(net.loss).unwrap());
}

/// Central differences of all 9,360 parameters against the reference gradients.
#[divan::bench]
fn full_check(bencher: Bencher) {
    let (params, x, y) = bench::network(16, 64);
    bencher.bench_local(|| assert!(bench::check_network_by_finite_differences(&params, &x, &y).unwrap()));
}

/// The same on kink-dense data: every hidden unit's pre-activation 5e-7 from 0 at one row.
#[divan::bench]
fn full_check_kinks(bencher: Bencher) {
    let (params, x, y) = bench::kink_dense_network(16, 64);
    bencher.bench_local(|| assert!(bench::check_network_by_finite_differences(&params, &x, &y).unwrap()));
}

/// One random projection of the reference gradient.
#[divan::bench]
fn projection_check(bencher: Bencher) {
    let (params, x, y) = bench::network(16, 64);
    let mut rng = random::case_rng(7, 7);
    bencher.bench_local(|| {
        let g = mlp::loss_and_grads(&params, &x, &y, Wrt::Params).unwrap();
        let grads = g.into_params();
        projection::project(&params, &x, &y, &grads, &mut rng).unwrap()
    });
}

/// The reference against both oracles on SWEEP_CASES random cases (divide for cases/s).
#[divan::bench(sample_count = 5)]
fn sweep_cases(bencher: Bencher) {
    bencher.bench_local(|| sweep::run(0, SWEEP_CASES).unwrap());
}
