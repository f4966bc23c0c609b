//! The deterministic tables as regression snapshots (`cargo insta review` to update them): the
//! cost models' table, the memory table, and the counts of a fixed-seed sweep. Nothing that
//! depends on the machine (times, last-bit rounding) is in them.

use gradverify::cost::{CostTable, MemoryTable};
use gradverify::sweep;

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn the_cost_table_of_the_models() {
    snapshot!("cost_table", CostTable::standard().unwrap().to_string());
}

#[test]
fn the_cost_table_in_markdown() {
    snapshot!("cost_table_markdown", CostTable::standard().unwrap().markdown());
}

#[test]
fn the_memory_table() {
    snapshot!("memory_table", MemoryTable::standard().unwrap().to_string());
}

#[test]
fn the_counts_of_a_fixed_seed_sweep() {
    snapshot!("sweep_counts_seed_0", sweep::run(0, 200).unwrap().counts());
}

#[test]
fn relus_jacobian_grows_as_d_squared_and_the_network_retains_more_with_depth() {
    let table = CostTable::standard().unwrap();
    let relu = |d: usize| {
        table
            .rows
            .iter()
            .find(|r| r.op.name() == "relu" && r.batch == 1 && r.width == d)
            .unwrap()
            .cost
    };
    assert_eq!(relu(1024).jacobian.flops / relu(64).jacobian.flops, 256);
    assert_eq!(relu(1024).vjp.flops / relu(64).vjp.flops, 16);
    let memory = MemoryTable::standard().unwrap();
    for pair in memory.rows.windows(2).filter(|p| p[0].width == p[1].width) {
        assert!(
            pair[1].retained > pair[0].retained,
            "deeper retains more: {pair:?}"
        );
        assert_eq!(
            pair[1].inference_peak, pair[0].inference_peak,
            "inference does not grow with depth: {pair:?}"
        );
    }
}
