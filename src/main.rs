//! The `gradverify` command: parse the arguments, run the command, map the outcome to an exit
//! status (0 agree or pass, 1 disagree or fail, 3 inconclusive, 2 bad usage or input) in one
//! place, [`cli::exit_status`].

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use gradverify::catalogue::OpKind;
use gradverify::grade::GradedOp;
use gradverify::sweep::Shard;
use gradverify::verify::Config;
use gradverify::verify::exec::{ProcessLimits, Program};
use gradverify::verify::program_ops::{Order, SpecFile};
use gradverify::verify::report::score::Points;

/// Cases an op in the default run: enough to cover every op at many shapes in a few seconds.
const CASES_PER_OP: u64 = 100;

/// Cases in the default run: [`CASES_PER_OP`] for each op of the registry.
fn default_cases() -> u64 {
    CASES_PER_OP * gradverify::verify::ops::all().len() as u64
}

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Proves backward passes right: the reference backprop against explicit Jacobians and finite differences, and your backward against the reference",
    after_help = "With no command: the reference against both oracles on 100 random cases an op (1500 for the fifteen), and the cost table."
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
    /// Grade a class: verify a command in every subfolder of DIR (one submission each).
    Grade(GradeArgs),
    /// Answer protocol-v1 requests on standard input with the reference gradients.
    Serve,
    /// Print the long explanation of a diagnosis code shown in a report, e.g. `explain mse_convention`;
    /// without a code, every code with the first line of its explanation.
    Explain {
        /// The code, as a report shows it in `diagnosis: [CODE]` (or JSON's "code").
        #[arg(value_name = "CODE")]
        code: Option<String>,
    },
    /// Time the speed workloads (median seconds per run) at the sizes of the peers' figures.
    Bench {
        /// One JSON object per line instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("brought").args(["spec", "described"]))]
struct SweepArgs {
    /// How many random cases (op or network × shape × values); by default 100 an op (1500), or
    /// with --spec or --described 40 an op.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    cases: Option<u64>,
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
    #[arg(long, value_name = "CMD", value_parser = parse_command)]
    exec: Option<String>,
    /// With --exec: sweep every op of this spec (docs/protocol-program-ops.md; TOML if named
    /// *.toml, else JSON), each checked as `verify --op` checks it, instead of the built-in ops.
    #[arg(long, value_name = "FILE", requires = "exec")]
    spec: Option<PathBuf>,
    /// With --exec: sweep every op the program describes (its answer to `describe`).
    #[arg(long, requires = "exec")]
    described: bool,
    /// With --spec or --described: 2 also checks each op's `second_backward`.
    #[arg(long, default_value = "1", value_parser = parse_order, requires = "brought")]
    order: Order,
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
    #[arg(long, value_name = "CMD", value_parser = parse_command)]
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
    /// Points per op for --format gradescope|junit, e.g. linear=2,relu=1 (1 each by default).
    #[arg(long, default_value = "", value_parser = parse_points)]
    points: Points,
    /// Also write the reports as a page to FILE: each op's verdict and, for each wrong
    /// gradient, a heat map of expected against got.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Ops the program brings (docs/protocol-program-ops.md): a spec file, TOML if named *.toml, else JSON; with --op, the program's
    /// backward of that op is checked against finite differences of its own forward.
    #[arg(long, value_name = "FILE", requires = "op")]
    spec: Option<PathBuf>,
    /// An op the program brings, to check: of --spec, or without it of the spec the program
    /// answers `describe` with.
    #[arg(long, value_name = "NAME")]
    op: Option<String>,
    /// With --op: an instructor's solution, run through `sh -c` and asked the same requests;
    /// checked once by finite differences, then its gradients and forward are the oracle (to
    /// 1e-8 relative).
    #[arg(long, value_name = "CMD", requires = "op", value_parser = parse_command)]
    reference: Option<String>,
    /// With --op: fast mode, one random projection of each gradient per case against one
    /// directional finite difference of the forward, instead of every element (a wrong element
    /// can be missed: see `OpCheck::fast`); not with --reference nor --order.
    #[arg(long, requires = "op", conflicts_with_all = ["reference", "order"])]
    fast: bool,
    /// With --op: 1 checks the backward, 2 also the program's `second_backward` (the backward's
    /// derivative along a direction) against finite differences of its backward.
    #[arg(long, default_value = "1", value_parser = parse_order, requires = "op")]
    order: Order,
    #[command(flatten)]
    program: ProgramArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("brought").args(["spec", "described"]))]
struct GradeArgs {
    /// The class: one subfolder per submission (folders starting with `.` are skipped).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The command to run through `sh -c` in each submission's folder, e.g. "python3 student.py".
    #[arg(long, value_name = "CMD", value_parser = parse_command)]
    exec: String,
    /// Random cases per op, the same for every submission.
    #[arg(long, default_value_t = Config::default().cases as u64, value_parser = clap::value_parser!(u64).range(1..10_000_000))]
    cases: u64,
    /// The seed every case is drawn from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Points per op, e.g. linear=2,relu=1 (1 each by default); with --spec, by the spec's op
    /// names, e.g. gru_cell=3.
    #[arg(long, default_value = "", value_parser = parse_points)]
    points: Points,
    /// Submissions graded at once (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    /// Wall-clock seconds one submission may take, all ops together.
    #[arg(long, default_value_t = 120.0, value_parser = parse_seconds)]
    budget_seconds: f64,
    /// Grade only the i-th of n equal parts of the submissions (in name order), e.g. 2/4.
    #[arg(long, default_value = "1/1", value_parser = parse_shard)]
    shard: Shard,
    /// Also write a CSV: one row per submission.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also write JUnit XML: a testsuite per submission.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write each submission's files to DIR/NAME/: report.txt, report.json, and each
    /// autograder's: results.json (Gradescope), prairielearn.json (PrairieLearn's results.json),
    /// autolab.txt (Autolab's output) and junit.xml (CodeGrade, any CI).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write the class report to DIR/index.html: the scores' histogram, each op's outcomes
    /// and most common bugs, and a page per submission (offline, no script).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Ops the submissions bring (docs/protocol-program-ops.md): grade the ops of this spec
    /// file instead of the built-in ones (--ops), each against finite differences of the
    /// submission's own forward, or against --reference.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// With --reference: grade the ops the instructor's solution describes (its answer to
    /// `describe`), instead of a spec file's; a submission's own description is not asked.
    #[arg(long, requires = "reference", conflicts_with = "spec")]
    described: bool,
    /// With --spec or --described: the ops to grade, comma-separated (all of them by default).
    #[arg(long = "op", value_name = "NAME", value_delimiter = ',', requires = "brought")]
    spec_ops: Vec<String>,
    /// With --spec or --described: an instructor's solution, run through `sh -c` in this folder
    /// and asked the same requests; checked once by finite differences before grading (a wrong
    /// one grades no one), then its gradients and forward are the oracle (to 1e-8 relative).
    #[arg(long, value_name = "CMD", requires = "brought", value_parser = parse_command)]
    reference: Option<String>,
    /// With --spec or --described: 2 also grades each op's `second_backward` (the backward's
    /// derivative along a direction) against finite differences of the submission's backward;
    /// a submission that does not answer it fails the op.
    #[arg(long, default_value = "1", value_parser = parse_order, requires = "brought")]
    order: Order,
    #[command(flatten)]
    program: ProgramArgs,
}

/// What to ask a program for, and how long to wait.
#[derive(Debug, Args)]
struct ProgramArgs {
    /// Which ops to verify, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = gradverify::verify::ops::all().to_vec(), value_parser = parse_op)]
    ops: Vec<OpKind>,
    /// Seconds to wait for each answer (at most a day).
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    timeout: f64,
    /// Relative tolerance, which certifies: an element within RTOL × |expected| of the
    /// reference passes. Float32 code needs 1e-3 (with --atol 1e-5).
    #[arg(long, default_value = "1e-8", value_parser = parse_tolerance)]
    rtol: f64,
    /// Absolute tolerance, which may only excuse: an element within ATOL of the reference
    /// passes whatever its relative error (beside a floor of 1e-12 × the gradient's largest
    /// element). Float32 code needs 1e-5.
    #[arg(long, default_value = "0", value_parser = parse_tolerance)]
    atol: f64,
    #[command(flatten)]
    limits: ProcessLimits,
}

fn parse_order(s: &str) -> Result<Order, String> {
    match s {
        "1" => Ok(Order::First),
        "2" => Ok(Order::Second),
        _ => Err(format!(
            "`{s}` is not an order: expected 1 (the backward) or 2 (also `second_backward`)"
        )),
    }
}

fn parse_op(s: &str) -> Result<OpKind, String> {
    s.parse::<OpKind>().map_err(|e| e.to_string())
}

/// The longest time-out: a day (Duration would overflow far above it).
const MAX_SECONDS: f64 = 86_400.0;

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SECONDS => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds above 0 and at most {MAX_SECONDS} (a day)"
        )),
    }
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a tolerance: expected a finite number ≥ 0, e.g. 1e-3"
        )),
    }
}

fn parse_command(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("the command is empty; give the program to run, e.g. \"python3 student.py\"".to_owned());
    }
    Ok(s.to_owned())
}

fn parse_points(s: &str) -> Result<Points, String> {
    s.parse().map_err(|e: gradverify::Error| e.to_string())
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse().map_err(|e: gradverify::Error| e.to_string())
}

fn main() -> ExitCode {
    gradverify::allocator::keep_freed_memory();
    cli::exit_status(run(Cli::parse()))
}

/// Runs the command the arguments name.
fn run(arguments: Cli) -> cli::Outcome {
    match arguments.command {
        None => cli::main_job(default_cases()),
        Some(Command::Sweep(a)) => {
            let brought = a.spec.is_some() || a.described;
            let cases = (a.cases).unwrap_or_else(|| match brought {
                true => Config::default().cases as u64,
                false => default_cases(),
            });
            let job = cli::SweepJob {
                cases,
                seed: a.seed,
                shard: a.shard,
                json: a.json,
                quiet: a.quiet,
            };
            let config = a.program.config(cases as usize, a.seed);
            cli::with_threads(a.threads, || match &a.exec {
                None => cli::sweep(&job),
                Some(command) if brought => {
                    let program = a.program.program(command);
                    let brought = cli::BroughtJob {
                        program: &program,
                        spec: a.spec.as_deref(),
                        config,
                        order: a.order,
                        fast: false,
                    };
                    cli::sweep_program_ops(&job, &brought)
                }
                Some(command) => cli::sweep_program(
                    &job,
                    command,
                    config,
                    &a.program.ops,
                    a.program.timeout(),
                    &a.program.limits,
                ),
            })
        }
        Some(Command::Costs(a)) => cli::costs(a.markdown, a.svg.as_deref(), !a.no_timing),
        Some(Command::Verify(a)) => {
            let config = a.program.config(a.cases as usize, a.seed);
            let printing = cli::Printing {
                format: a.format,
                points: &a.points,
                html: a.html.as_deref(),
            };
            if let Some(op) = &a.op {
                a.points.only_for(&[op])?;
                let program = a.program.program(&a.exec);
                let reference = (a.reference.as_deref()).map(|command| a.program.program(command));
                let brought = cli::BroughtJob {
                    program: &program,
                    spec: a.spec.as_deref(),
                    config,
                    order: a.order,
                    fast: a.fast,
                };
                return cli::verify_program_op(&brought, reference.as_ref(), op, &printing);
            }
            let names: Vec<&str> = a.program.ops.iter().map(|k| k.name()).collect();
            a.points.only_for(&names)?;
            let job = cli::VerifyJob {
                command: &a.exec,
                kinds: &a.program.ops,
                config,
                timeout: a.program.timeout(),
                limits: &a.program.limits,
            };
            cli::verify(&job, &printing)
        }
        Some(Command::Grade(a)) => {
            let ops = match (&a.spec, &a.reference) {
                (Some(spec), _) => cli::spec_ops(SpecFile::read(spec)?, &a.spec_ops)?,
                (None, Some(reference)) if a.described => {
                    let specs = cli::described_by(&a.program.program(reference), "grade")?;
                    cli::spec_ops(specs, &a.spec_ops)?
                }
                _ => a.program.ops.iter().map(|&k| GradedOp::BuiltIn(k)).collect(),
            };
            let names: Vec<&str> = ops.iter().map(GradedOp::name).collect();
            a.points.only_for(&names)?;
            let config = a.program.config(a.cases as usize, a.seed);
            let job = gradverify::grade::GradeJob {
                timeout: a.program.timeout(),
                limits: a.program.limits.clone(),
                dir: a.dir,
                command: a.exec,
                ops,
                reference: a.reference,
                config,
                order: a.order,
                budget: std::time::Duration::from_secs_f64(a.budget_seconds),
                points: a.points,
                jobs: a.jobs.map_or_else(cli::cores, |j| j as usize),
                shard: a.shard,
            };
            let files = cli::GradeFiles {
                csv: a.csv,
                junit: a.junit,
                out: a.out,
                html: a.html,
            };
            cli::grade(&job, &files, a.quiet)
        }
        Some(Command::Serve) => cli::serve(),
        Some(Command::Explain { code }) => cli::explain(code.as_deref()),
        Some(Command::Bench { json }) => cli::bench(json),
    }
}

impl ProgramArgs {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout)
    }

    /// `command`, to run with these limits and time-out.
    fn program(&self, command: &str) -> Program {
        Program {
            limits: self.limits.clone(),
            ..Program::new(command, self.timeout())
        }
    }

    /// The verifier's configuration: these cases and seed, and the tolerances given.
    fn config(&self, cases: usize, seed: u64) -> Config {
        Config::default()
            .cases(cases)
            .seed(seed)
            .rtol(self.rtol)
            .atol(self.atol)
    }
}
