//! Sweeps: each case is drawn from its own seeded stream, so the plan of cases is fixed by the
//! seed (snapshotted) and the result does not depend on the number of threads.

use gradverify::sweep;

fn plan(seed: u64, count: u64) -> String {
    let report = sweep::run_shard(seed, count, sweep::Shard::WHOLE, sweep::Keep::EveryCase, &|| {}).unwrap();
    report
        .lines
        .unwrap()
        .iter()
        .map(|c| format!("{:>3} {:<6} {}", c.index, c.kind.name(), c.shape))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_plan_of_cases_is_fixed_by_the_seed() {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("sweep_plan_seed_0", plan(0, 16));
    });
}

#[test]
fn the_result_is_the_same_on_one_thread_and_on_several() {
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sweep::run(3, 48).unwrap().to_string())
    };
    let one = on(1);
    assert_eq!(one, on(3));
    assert!(one.contains("every case agrees with both oracles"), "{one}");
}

#[test]
fn different_seeds_draw_different_cases() {
    assert_ne!(plan(0, 8), plan(1, 8));
}

#[test]
fn the_shards_of_a_sweep_together_are_the_whole_sweep() {
    let every = sweep::Keep::EveryCase;
    let whole = sweep::run_shard(5, 37, sweep::Shard::WHOLE, every, &|| {}).unwrap();
    let mut union = Vec::new();
    for part in 1..=4 {
        let shard = format!("{part}/4").parse().unwrap();
        union.extend(
            sweep::run_shard(5, 37, shard, every, &|| {})
                .unwrap()
                .lines
                .unwrap(),
        );
    }
    assert_eq!(union.len(), 37);
    assert_eq!(Some(union), whole.lines);
}

#[test]
fn a_shard_must_be_i_of_n_with_i_from_1_to_n() {
    for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
        let err = bad.parse::<sweep::Shard>().unwrap_err();
        assert!(err.to_string().contains("expected i/n"), "{bad}: {err}");
    }
    assert_eq!("3/3".parse::<sweep::Shard>().unwrap().range(10), 6..10);
}

#[test]
fn a_parallel_verification_is_the_same_on_one_thread_and_on_several() {
    use gradverify::check::linear_subject;
    use gradverify::verify::ops;
    use gradverify::verify::{Config, Diagnosis, verify_parallel};
    use ndarray::{Array1, Array2};
    // A bias not summed over the batch: the findings, shrinking and diagnosis must not depend
    // on how the cases were split between threads.
    let buggy = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        (g.dot(&w.t()), h.t().dot(g), g.row(0).to_owned())
    };
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let config = Config::default().cases(60).seed(2);
        pool.install(|| verify_parallel(ops::linear::KIND, || linear_subject(buggy), config, 0..60))
    };
    let one = on(1);
    assert!(
        one.findings
            .iter()
            .any(|f| f.diagnosis == Some(Diagnosis::Bug(&gradverify::verify::ops::linear::BIAS_NOT_SUMMED))),
        "{one}"
    );
    assert_eq!(one, on(3));
}

#[test]
fn a_sweep_keeps_tallies_and_failures_only_unless_every_case_is_asked_for() {
    let lean = sweep::run(3, 48).unwrap();
    let every = sweep::run_shard(3, 48, sweep::Shard::WHOLE, sweep::Keep::EveryCase, &|| {}).unwrap();
    assert!(lean.lines.is_none());
    assert!(lean.failures.is_empty());
    assert_eq!(lean.cases(), 48);
    assert_eq!(lean.to_string(), every.to_string());
    assert_eq!(lean.counts(), every.counts());
    // The streamed tallies are the sum of the cases' own.
    let lines = every.lines.unwrap();
    let certified: usize = lines.iter().map(|l| l.finite_diff.certified).sum();
    let arrays: usize = lines.iter().map(|l| l.jacobian.arrays).sum();
    let (jac, fd) = lean.tally(None);
    assert_eq!((fd.certified, jac.arrays), (certified, arrays));
    assert!(certified > 0);
}
