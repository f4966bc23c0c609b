//! The sweep's verdicts, held: every sample of the registry gets the verdict it expects in the
//! pinned candle (right gradients pass, the unsupported stay unsupported, each known defect
//! fails), the registry covers at least 50 ops, and each defect id is written down in the README
//! and proved in `tests/defects.rs`.

use std::collections::BTreeSet;

use gradverify_candle::registry::{self, Expect};

#[test]
fn every_sample_gets_the_verdict_the_registry_expects() {
    let mut wrong = Vec::new();
    let mut counts = [0usize; 3];
    for sample in registry::all() {
        let outcome = sample.check.run().outcome();
        if !sample.expect.matches(&outcome) {
            wrong.push(format!(
                "{} {}: expected {:?}, got {outcome}",
                sample.op, sample.label, sample.expect
            ));
        }
        counts[match sample.expect {
            Expect::Pass => 0,
            Expect::Unsupported => 1,
            Expect::Defect(_) => 2,
        }] += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The sweep is not vacuous: most samples pass, and each kind of verdict occurs.
    assert!(
        counts[0] >= 100 && counts[1] >= 5 && counts[2] >= 10,
        "{counts:?}"
    );
}

#[test]
fn the_registry_covers_at_least_fifty_ops() {
    let ops: BTreeSet<_> = registry::all().iter().map(|s| s.op).collect();
    assert!(ops.len() >= 50, "{} ops: {ops:?}", ops.len());
}

#[test]
fn each_defect_is_in_the_readme_and_proved_in_the_defects_tests() {
    let readme = include_str!("../README.md");
    let defects = include_str!("defects.rs");
    let ids: BTreeSet<_> = registry::all()
        .iter()
        .filter_map(|s| match s.expect {
            Expect::Defect(id) => Some(id),
            _ => None,
        })
        .collect();
    for id in &ids {
        assert!(readme.contains(&format!("`{id}`")), "{id} is not in the README");
        assert!(
            defects.contains(&format!("defect: {id}")),
            "{id} has no test in tests/defects.rs"
        );
    }
}
