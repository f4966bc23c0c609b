//! Sweeps: each case is drawn from its own seeded stream, so the plan of cases is fixed by the
//! seed (snapshotted) and the result does not depend on the number of threads.

use gradverify::sweep;

fn plan(seed: u64, count: u64) -> String {
    let report = sweep::run(seed, count).unwrap();
    report
        .cases
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
