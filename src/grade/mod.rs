//! Grading a class: every subfolder of a folder is a submission, and one command, run in each
//! submission's folder, is verified like `verify --exec` with the same seeded cases for all.
//!
//! Submissions are graded `jobs` at a time, each with a wall-clock budget ([`budget`]); each op
//! scores its points on a pass and 0 otherwise ([`crate::verify::report::score`]). A command that
//! cannot start is that submission's failure (score 0, the reason in its row), and grading goes
//! on. `--shard i/n` grades the i-th of n equal parts of the submissions in name order, so a CI
//! matrix of n jobs grades a class once. The results are written by [`output`].
//!
//! The ops are the built-in ones (checked against the reference backprop) or ones a spec
//! describes ([`GradedOp::Program`]: checked against finite differences of the submission's own
//! forward, or, with a reference program, against an instructor's solution asked the same
//! requests, one solution process per submission).

mod budget;
pub mod files;
pub mod html;
pub mod output;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::catalogue::OpKind;
use crate::error::{Error, Result};
use crate::protocol::lines::printable;
use crate::sweep::Shard;
use crate::verify::exec::{ProcessLimits, Program, Restarting};
use crate::verify::program_ops::{self, Order, ProgramOp};
use crate::verify::report::score::{OpScore, Points, Scorecard};
use crate::verify::{self, Config, Report};

use budget::Budgeted;

/// What to grade and how.
#[derive(Debug, Clone)]
pub struct GradeJob {
    /// The class: one subfolder per submission.
    pub dir: PathBuf,
    /// The command, run through `sh -c` in each submission's folder.
    pub command: String,
    /// The ops to verify, in order.
    pub ops: Vec<GradedOp>,
    /// The instructor's solution for the ops a spec describes, run through `sh -c` in the
    /// grader's folder; checked beforehand (see `gradverify grade --reference`). Without it,
    /// those ops are checked against finite differences of each submission's own forward.
    pub reference: Option<String>,
    /// Cases per op and their seed, the same for every submission.
    pub config: Config,
    /// For the ops a spec describes: the first order, or the second too (`--order 2`).
    pub order: Order,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// Each program's resource limits and sandbox.
    pub limits: ProcessLimits,
    /// The wall-clock budget of one submission.
    pub budget: Duration,
    /// What each op is worth.
    pub points: Points,
    /// Submissions graded at once.
    pub jobs: usize,
    /// Which part of the class.
    pub shard: Shard,
}

/// An op a class is graded on.
#[derive(Debug, Clone, PartialEq)]
pub enum GradedOp {
    /// A built-in op, checked against the reference backprop.
    BuiltIn(OpKind),
    /// An op a spec describes, checked over `docs/protocol-program-ops.md`.
    Program(ProgramOp),
}

impl GradedOp {
    /// Its name in tables, points and reports.
    pub fn name(&self) -> &str {
        match self {
            GradedOp::BuiltIn(kind) => kind.name(),
            GradedOp::Program(op) => &op.name,
        }
    }
}

impl GradeJob {
    /// The ops' names, in order.
    pub fn op_names(&self) -> Vec<&str> {
        self.ops.iter().map(GradedOp::name).collect()
    }

    /// The instructor's solution as a program (run in the grader's folder, with the
    /// submissions' limits), when the job has one and an op a spec describes needs it.
    pub fn reference_program(&self) -> Option<Program> {
        let needed = self.ops.iter().any(|op| matches!(op, GradedOp::Program(_)));
        let command = self.reference.as_deref().filter(|_| needed)?;
        Some(Program {
            limits: self.limits.clone(),
            ..Program::new(command, self.timeout)
        })
    }
}

/// One submission, graded.
#[derive(Debug, Clone)]
pub struct Graded {
    /// Its scores (named after its folder).
    pub card: Scorecard,
    /// The reports of the ops that were run.
    pub reports: Vec<Report>,
    /// How long it took.
    pub seconds: f64,
}

/// The submissions of `dir` (its subfolders not starting with `.`), in name order, and the part
/// of them that `shard` takes.
pub fn submissions(dir: &Path, shard: Shard) -> Result<Vec<PathBuf>> {
    let unreadable = |e: std::io::Error| Error::Config {
        arg: "DIR".into(),
        value: dir.display().to_string(),
        expected: format!("a readable folder of submissions ({e})"),
    };
    let mut all: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir() && !name(path).starts_with('.'))
        .collect();
    if all.is_empty() {
        return Err(Error::Config {
            arg: "DIR".into(),
            value: dir.display().to_string(),
            expected: "a folder with one subfolder per submission; it has none".into(),
        });
    }
    all.sort();
    let range = shard.range(all.len() as u64);
    Ok(all[range.start as usize..range.end as usize].to_vec())
}

/// Grades `submissions` (from [`submissions`]), `job.jobs` at a time, calling `done` after each;
/// the results come back in the submissions' order.
pub fn grade(job: &GradeJob, submissions: &[PathBuf], done: &(dyn Fn(&Graded) + Sync)) -> Vec<Graded> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Graded>>> = Mutex::new(vec![None; submissions.len()]);
    thread::scope(|scope| {
        for _ in 0..job.jobs.clamp(1, submissions.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(folder) = submissions.get(i) else { break };
                    let graded = grade_one(job, folder);
                    done(&graded);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(graded);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// One submission: its command in its folder, op after op until the budget is spent.
fn grade_one(job: &GradeJob, folder: &Path) -> Graded {
    let start = Instant::now();
    let name = name(folder);
    let finish = |ops: Vec<OpScore>, reports: Vec<Report>, fault: Option<String>, tail: &[String]| {
        let mut card = Scorecard {
            name: name.clone(),
            ops,
            fault: fault.clone(),
            output: String::new(),
        };
        card.output = card.summary();
        if let Some(fault) = &fault {
            card.output.push_str(&format!("\n{fault}"));
        }
        if card.score() < card.max_score() && !tail.is_empty() {
            card.output.push_str(&format!(
                "\nthe program's last lines of standard error:\n  | {}",
                tail.join("\n  | ")
            ));
        }
        Graded {
            card,
            reports,
            seconds: start.elapsed().as_secs_f64(),
        }
    };
    let not_run = |why: &str| {
        let ops = job
            .ops
            .iter()
            .map(|op| OpScore::not_run(op.name(), &job.points, why))
            .collect();
        finish(ops, Vec::new(), Some(why.to_owned()), &[])
    };
    let program = Program {
        limits: job.limits.clone(),
        dir: Some(folder.into()),
        ..Program::new(&job.command, job.timeout.min(job.budget))
    };
    let subject = match Restarting::start(program) {
        Ok(subject) => subject,
        Err(e) => return not_run(&format!("the command could not start: {e}")),
    };
    let mut solution = match job.reference_program().map(Restarting::start).transpose() {
        Ok(solution) => solution,
        Err(e) => {
            let command = job.reference.as_deref().unwrap_or_default();
            return not_run(&format!("the reference `{command}` could not start: {e}"));
        }
    };
    let mut subject = Budgeted::new(&job.command, subject, job.budget);
    let (mut ops, mut reports, mut fault) = (Vec::new(), Vec::new(), None);
    for op in &job.ops {
        if subject.out_of_time() {
            let spent = subject.budget_spent();
            ops.push(OpScore::not_run(
                op.name(),
                &job.points,
                &format!("{spent} before this op"),
            ));
            fault.get_or_insert(spent);
            continue;
        }
        subject.begin_op();
        let report = match op {
            GradedOp::BuiltIn(kind) => verify::verify(*kind, &mut subject, job.config),
            GradedOp::Program(op) => match solution.as_mut() {
                Some(reference) => {
                    reference.begin_op();
                    program_ops::against_reference(
                        op,
                        &mut subject,
                        reference,
                        &job.command,
                        job.config,
                        job.order,
                    )
                }
                None => program_ops::check(op, &mut subject, &job.command, job.config, job.order),
            },
        };
        if let Some(why) = subject.not_started() {
            return not_run(why);
        }
        let mut score = OpScore::of(&report, op.name(), &job.points);
        if subject.take_refused() {
            let spent = subject.budget_spent();
            score = score.out_of_time(&format!("{spent} while this op was checked"));
            fault.get_or_insert(spent);
        }
        ops.push(score);
        reports.push(report);
    }
    finish(ops, reports, fault, &subject.stderr_tail())
}

/// The last part of a path, as a submission's name, its control characters escaped (a folder
/// name is the student's to choose; the table, the CSV and `--out` show it).
fn name(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    printable(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_are_the_visible_subfolders_in_name_order_split_by_shard() {
        let dir = std::env::temp_dir().join(format!("gradverify-subs-{}", std::process::id()));
        for sub in ["carol", "alice", ".git", "bob", "dave"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("notes.txt"), "not a submission").unwrap();
        let names = |shard: &str| -> Vec<String> {
            submissions(&dir, shard.parse().unwrap())
                .unwrap()
                .iter()
                .map(|p| name(p))
                .collect()
        };
        assert_eq!(names("1/1"), ["alice", "bob", "carol", "dave"]);
        assert_eq!(names("1/2"), ["alice", "bob"]);
        assert_eq!(names("2/2"), ["carol", "dave"]);
        let parts: Vec<String> = (1..=5).flat_map(|i| names(&format!("{i}/5"))).collect();
        assert_eq!(parts, names("1/1"), "five parts of four cover each once");
        let empty = dir.join("alice");
        let message = submissions(&empty, Shard::WHOLE).unwrap_err().to_string();
        assert!(message.contains("has none"), "{message}");
        let message = submissions(&dir.join("nowhere"), Shard::WHOLE)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("argument `DIR`") && message.contains("readable"),
            "{message}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
