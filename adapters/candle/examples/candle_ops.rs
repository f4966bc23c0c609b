//! Sweeps every sample of the registry through `gradverify_candle::check` and prints one line
//! per op and sample set: pass, FAIL with the diagnosis codes, inconclusive with the reason, or
//! unsupported with candle's reason; then the counts, and any verdict that differs from the one
//! the registry expects (exit status 1 if there is one).
//!
//! `cargo run --release --example candle_ops` (in adapters/candle); `-- -v` prints each
//! report whole.

use std::collections::BTreeSet;
use std::time::Instant;

use gradverify_candle::registry;

fn main() {
    let verbose = std::env::args().any(|a| a == "-v");
    let start = Instant::now();
    let samples = registry::all();
    let mut counts = [0usize; 4];
    let mut unexpected = Vec::new();
    let ops: BTreeSet<_> = samples.iter().map(|s| s.op).collect();
    for sample in &samples {
        let report = sample.check.run();
        let outcome = report.outcome();
        let slot = ["pass", "FAIL", "inconclusive", "unsupported"]
            .iter()
            .position(|w| *w == outcome.word())
            .unwrap_or(0);
        counts[slot] += 1;
        let expected = sample.expect.matches(&outcome);
        let defect = match sample.expect {
            registry::Expect::Defect(id) if expected => format!("  [known candle defect: {id}]"),
            _ => String::new(),
        };
        println!("{:<20} {:<58} {outcome}{defect}", sample.op, sample.label);
        if verbose {
            println!("{report}\n");
        }
        if !expected {
            unexpected.push(format!(
                "{} {}: expected {:?}, got {outcome}",
                sample.op, sample.label, sample.expect
            ));
        }
    }
    println!(
        "\n{} ops, {} sample sets: {} pass, {} FAIL, {} inconclusive, {} unsupported ({:.1} s)",
        ops.len(),
        samples.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        start.elapsed().as_secs_f64()
    );
    if !unexpected.is_empty() {
        println!("\nnot as the registry expects:");
        for line in &unexpected {
            println!("  {line}");
        }
        std::process::exit(1);
    }
}
