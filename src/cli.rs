//! The commands behind `gradverify`'s subcommands: each runs, prints, and returns the exit status.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use gradverify::bench::backward_over_forward;
use gradverify::cost::{self, CostTable, MemoryTable};
use gradverify::plot;
use gradverify::protocol::{OpKind, serve as server};
use gradverify::sweep::{self, Shard};
use gradverify::timing::TimingTable;
use gradverify::verify::exec::{ExecSubject, ProcessLimits, Program};
use gradverify::verify::{self, Config};

/// Exit status for bad usage or input.
const USAGE: u8 = 2;

/// What a sweep runs and how it prints.
pub struct SweepJob {
    pub cases: u64,
    pub seed: u64,
    pub shard: Shard,
    pub json: bool,
    pub quiet: bool,
}

/// The main job: the reference against both oracles on `cases` random cases, then the cost
/// table at B = 1.
pub fn main_job(cases: u64) -> ExitCode {
    let start = Instant::now();
    let report = match sweep::run(0, cases) {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    let table = match CostTable::for_sizes(&cost::SIZES, &[1]) {
        Ok(table) => table,
        Err(e) => return fail(&e),
    };
    print(&format!(
        "gradverify: the reference backprop against explicit Jacobians and central differences\n{report}\ntook {:.2} s on {}\n\n{table}\nMore: `gradverify costs` (batch 32, memory, measured times), `gradverify sweep --help`, `gradverify verify --help`.\n",
        start.elapsed().as_secs_f64(),
        pool_threads()
    ));
    status(report.failures().next().is_none())
}

/// "1 thread" or "N threads": the size of the current rayon pool.
fn pool_threads() -> String {
    match rayon::current_num_threads() {
        1 => "1 thread".to_owned(),
        n => format!("{n} threads"),
    }
}

/// Runs `f` on a pool of `threads` threads, or on rayon's default pool (which honours
/// RAYON_NUM_THREADS).
pub fn with_threads(threads: Option<u64>, f: impl FnOnce() -> ExitCode + Send) -> ExitCode {
    let Some(threads) = threads else { return f() };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(e) => {
            eprintln!("gradverify: cannot start {threads} threads: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// The reference against both oracles, with a progress bar on a terminal.
pub fn sweep(job: &SweepJob) -> ExitCode {
    let range = job.shard.range(job.cases);
    let bar = progress(range.end - range.start, job.quiet || job.json);
    let start = Instant::now();
    let result = sweep::run_shard(job.seed, job.cases, job.shard, &|| bar.inc(1));
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    let seconds = start.elapsed().as_secs_f64();
    if job.json {
        let mut json = report.to_json();
        json["seconds"] = seconds.into();
        json["threads"] = rayon::current_num_threads().into();
        print(&format!("{json}\n"));
    } else {
        let rate = report.cases.len() as f64 / seconds;
        print(&format!(
            "{report}\ntook {seconds:.2} s on {} ({rate:.0} cases/s)\n",
            pool_threads()
        ));
    }
    status(report.failures().next().is_none())
}

/// A program's backward over many cases, one process per thread.
pub fn sweep_program(
    job: &SweepJob,
    command: &str,
    kinds: &[OpKind],
    timeout: Duration,
    limits: &ProcessLimits,
) -> ExitCode {
    let program = Program {
        limits: limits.clone(),
        ..Program::new(command, timeout)
    };
    if let Err(e) = program.start() {
        eprintln!("gradverify sweep: cannot start `sh -c {command}`: {e}");
        return ExitCode::from(USAGE);
    }
    let range = job.shard.range(job.cases);
    let config = Config {
        cases: job.cases as usize,
        seed: job.seed,
    };
    let make = || -> ExecSubject {
        program
            .start()
            .expect("the shell started once and must start again")
    };
    let reports: Vec<_> = kinds
        .iter()
        .map(|&kind| verify::verify_parallel(kind, make, config, range.start as usize..range.end as usize))
        .collect();
    let passed = reports.iter().filter(|r| r.passed()).count();
    if job.json {
        let json: Vec<_> = reports
            .iter()
            .map(|r| serde_json::json!({"op": r.op, "cases": r.cases, "passed": r.passed(), "report": r.to_string()}))
            .collect();
        print(&format!("{}\n", serde_json::Value::from(json)));
    } else {
        for report in &reports {
            print(&format!("{report}\n"));
        }
        print(&format!("{passed} of {} ops pass\n", kinds.len()));
    }
    status(passed == kinds.len())
}

/// The cost table, the memory table and (unless skipped) the measured times; optionally as
/// Markdown and with an SVG plot.
pub fn costs(markdown: bool, svg: Option<&Path>, timing: bool) -> ExitCode {
    let tables = CostTable::standard().and_then(|c| Ok((c, MemoryTable::standard()?)));
    let (table, memory) = match tables {
        Ok(tables) => tables,
        Err(e) => return fail(&e),
    };
    if markdown {
        print(&format!("{}\n{}", table.markdown(), memory.markdown()));
    } else {
        print(&format!("{table}\n{memory}"));
    }
    if let Some(path) = svg {
        if let Err(e) = plot::cost_svg(&table, path) {
            return fail(&e);
        }
        eprintln!("wrote {}", path.display());
    }
    if timing {
        match TimingTable::standard() {
            Ok(times) => print(&format!("\n{times}\n")),
            Err(e) => return fail(&e),
        }
    }
    ExitCode::SUCCESS
}

/// A program's backward of each op in `kinds`, with its reports.
pub fn verify(
    command: &str,
    kinds: &[OpKind],
    config: Config,
    timeout: Duration,
    limits: &ProcessLimits,
) -> ExitCode {
    let program = Program {
        limits: limits.clone(),
        ..Program::new(command, timeout)
    };
    let mut subject = match program.start() {
        Ok(subject) => subject,
        Err(e) => {
            eprintln!("gradverify verify: cannot start `sh -c {command}`: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let mut passed = 0;
    for &kind in kinds {
        let report = verify::verify(kind, &mut subject, config);
        if let Some(fault) = subject.cannot_start() {
            eprintln!("gradverify verify: `sh -c {command}`: {fault}");
            return ExitCode::from(USAGE);
        }
        passed += usize::from(report.passed());
        print(&format!("{report}\n"));
    }
    let tail = subject.stderr_tail();
    if passed < kinds.len() && !tail.is_empty() {
        print(&format!(
            "the program's last lines of standard error:\n  | {}\n",
            tail.join("\n  | ")
        ));
    }
    print(&format!("{passed} of {} ops pass\n", kinds.len()));
    status(passed == kinds.len())
}

/// The speed workloads, as a table or as JSON lines.
pub fn bench(json: bool) -> ExitCode {
    let figures = match gradverify::bench::all() {
        Ok(figures) => figures,
        Err(e) => return fail(&e),
    };
    for (k, f) in figures.iter().enumerate() {
        if json {
            print(&format!("{}\n", f.to_json()));
            continue;
        }
        let size = if f.batch == 0 {
            String::new()
        } else {
            format!("B={} D={}", f.batch, f.width)
        };
        let rate = match (f.cases_per_s, f.flop_rate()) {
            (Some(r), _) => format!("  ({r:.0} cases/s on {})", pool_threads()),
            (None, Some(r)) => format!("  ({:.1} GFLOP/s)", r / 1e9),
            (None, None) => String::new(),
        };
        let time = gradverify::timing::seconds(f.median_s);
        print(&format!("{:<17} {size:<13} {time:>10}{rate}\n", f.name));
        let forward = k.checked_sub(1).map(|i| &figures[i]);
        if let Some((time, flops)) = forward.and_then(|fw| backward_over_forward(fw, f)) {
            print(&format!(
                "{:<31} backward/forward: time ×{time:.2}, flops ×{flops:.2}\n",
                ""
            ));
        }
    }
    ExitCode::SUCCESS
}

/// Serves protocol requests on standard input until it closes.
pub fn serve() -> ExitCode {
    match server::serve(io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gradverify serve: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// A progress bar on standard error, drawn only on a terminal and unless `hidden`.
fn progress(len: u64, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} cases, {eta} left") {
        bar.set_style(style);
    }
    bar
}

fn status(ok: bool) -> ExitCode {
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn fail(e: &gradverify::Error) -> ExitCode {
    eprintln!("gradverify: {e}");
    ExitCode::from(USAGE)
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("gradverify: cannot write to standard output: {e}");
    }
}
