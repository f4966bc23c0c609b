//! `cargo bench --bench speed`: the speed workloads of issue 14 at the sizes of the peers'
//! figures, timed by the same code as `gradverify bench` (each figure the median of repeated
//! runs after a warm-up, [`gradverify::timing::median_time`]) and printed as its table.
//! `benches/peers.py --ratios` sets them against NumPy and PyTorch in the same run.

fn main() -> Result<(), gradverify::Error> {
    // As the `gradverify` binary does, so that both measure the same thing.
    gradverify::allocator::keep_freed_memory();
    let figures = gradverify::bench::all()?;
    print!("{}", gradverify::bench::table(&figures));
    Ok(())
}
