//! `cargo bench --bench speed`: the speed workloads of issue 14 at the sizes of the peers'
//! figures, timed by the same code as `gradverify bench` (each figure the median of repeated
//! runs after a warm-up, [`gradverify::timing::median_time`]) and printed as its table.
//! `benches/peers.py --ratios` sets them against NumPy and PyTorch in the same run.

/// The allocator of the `gradverify` binary, so that both measure the same thing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), gradverify::Error> {
    let figures = gradverify::bench::all()?;
    print!("{}", gradverify::bench::table(&figures));
    Ok(())
}
