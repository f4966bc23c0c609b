//! The `gradverify` command: parse the arguments, run the command, map the outcome to an exit
//! status (0 agree or pass, 1 disagree or fail, 3 inconclusive, 2 bad usage or input) in one
//! place, [`cli::exit_status`].

mod cli;

/// glibc's allocator hands the buffers of one iteration back to the OS and faults them in again
/// on the next, which doubled the time of a forward+backward here; mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use gradverify::protocol::OpKind;
use gradverify::sweep::Shard;
use gradverify::verify::Config;

/// Cases in the default run: enough to cover every op at many shapes in well under a second.
const DEFAULT_CASES: u64 = 400;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Proves backward passes right: the reference backprop against explicit Jacobians and finite differences, and your backward against the reference",
    after_help = "With no command: the reference against both oracles on 400 random cases, and the cost table."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the reference backprop (or, with --exec, a program) on many random cases in parallel.
    Sweep(SweepArgs),
    /// Print the Jacobian-vs-VJP cost table, the memory table and measured times.
    Costs(CostsArgs),
    /// Verify a backward written in any language that speaks protocol-v1 on stdin/stdout.
    Verify(VerifyArgs),
    /// Answer protocol-v1 requests on standard input with the reference gradients.
    Serve,
    /// Time the speed workloads (median seconds per run) at the sizes of the peers' figures.
    Bench {
        /// One JSON object per line instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// How many random cases (op or network × shape × values).
    #[arg(long, default_value_t = DEFAULT_CASES, value_parser = clap::value_parser!(u64).range(1..))]
    cases: u64,
    /// The seed every case is drawn from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (default: RAYON_NUM_THREADS, else one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..1025))]
    threads: Option<u64>,
    /// Run only the i-th of n equal parts of the cases, e.g. 2/4.
    #[arg(long, default_value = "1/1", value_parser = parse_shard)]
    shard: Shard,
    /// Print the results as JSON instead of the summary.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Sweep this program's backward (run through `sh -c`, one process per thread) instead of the reference.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    #[command(flatten)]
    program: ProgramArgs,
}

#[derive(Debug, Args)]
struct CostsArgs {
    /// Print Markdown tables, for pasting.
    #[arg(long)]
    markdown: bool,
    /// Also write a log-log plot of cost against D to this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Skip the measured times (they take a while; the model tables are instant).
    #[arg(long)]
    no_timing: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The program to run through `sh -c`, e.g. "python3 student.py".
    #[arg(long, value_name = "CMD")]
    exec: String,
    /// Random cases per op.
    #[arg(long, default_value_t = Config::default().cases as u64, value_parser = clap::value_parser!(u64).range(1..10_000_000))]
    cases: u64,
    /// The seed every case is drawn from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How to print the reports.
    #[arg(long, value_enum, default_value_t = cli::Format::Text)]
    format: cli::Format,
    #[command(flatten)]
    program: ProgramArgs,
}

/// What to ask a program for, and how long to wait.
#[derive(Debug, Args)]
struct ProgramArgs {
    /// Which ops to verify, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = OpKind::ALL, value_parser = parse_op)]
    ops: Vec<OpKind>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    timeout: f64,
}

fn parse_op(s: &str) -> Result<OpKind, String> {
    s.parse::<OpKind>().map_err(|e| e.to_string())
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds above 0")),
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: gradverify::Error| e.to_string())
}

fn main() -> ExitCode {
    cli::exit_status(run(Cli::parse()))
}

/// Runs the command the arguments name.
fn run(arguments: Cli) -> cli::Outcome {
    match arguments.command {
        None => cli::main_job(DEFAULT_CASES),
        Some(Command::Sweep(a)) => {
            let job = cli::SweepJob {
                cases: a.cases,
                seed: a.seed,
                shard: a.shard,
                json: a.json,
                quiet: a.quiet,
            };
            cli::with_threads(a.threads, || match &a.exec {
                None => cli::sweep(&job),
                Some(command) => cli::sweep_program(&job, command, &a.program.ops, a.program.timeout()),
            })
        }
        Some(Command::Costs(a)) => cli::costs(a.markdown, a.svg.as_deref(), !a.no_timing),
        Some(Command::Verify(a)) => {
            let config = Config {
                cases: a.cases as usize,
                seed: a.seed,
            };
            cli::verify(&a.exec, &a.program.ops, config, a.program.timeout(), a.format)
        }
        Some(Command::Serve) => cli::serve(),
        Some(Command::Bench { json }) => cli::bench(json),
    }
}

impl ProgramArgs {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout)
    }
}
