//! Grading a class on ops a spec describes: `grade DIR --exec CMD --spec examples/ops/ops.json
//! --reference CMD` on submissions that run the C (or Node) program of `examples/ops/`, each
//! with a planted bug or none, scored per op against an instructor's solution and against
//! finite differences of each submission's own forward, into the same table, CSV and
//! autograders' files as the built-in ops. Skipped with a message where neither `cc` nor `node`
//! is here.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::grade::csv_rows;
use super::program_ops::{binary, programs};
use crate::common::text;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The class: a folder per student, each with the bug its program plants (none for alice).
const CLASS: [(&str, &str); 5] = [
    ("alice", ""),
    ("bob", "sign"),
    ("carol", "forgotten"),
    ("dave", "upstream"),
    ("erin", "forward"),
];

fn write_class(dir: &Path) {
    for (name, bug) in CLASS {
        fs::create_dir_all(dir.join(name)).expect("create a submission folder");
        fs::write(dir.join(name).join("bug"), bug).expect("write the planted bug");
    }
}

/// `gradverify grade` of the class in `dir` on the ops of `examples/ops/ops.json`, with points.
fn grade(dir: &Path, program: &str, more: &[&str]) -> Output {
    let spec = [
        "--spec",
        "examples/ops/ops.json",
        "--points",
        "softplus=1,gru_cell=3",
    ];
    grade_ops(dir, program, &[&spec[..], more].concat())
}

#[test]
fn a_class_is_graded_on_a_specs_ops_with_points_against_an_instructors_solution() {
    for program in programs("grade") {
        // Submissions run in their own folders: the program by its absolute path.
        let program = program.replace("examples/", &format!("{ROOT}/examples/"));
        let dir = std::env::temp_dir().join(format!("gradverify-grade-ops-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write_class(&dir.join("class"));
        let (csv, out) = (dir.join("grades.csv"), dir.join("out"));
        let run = grade(
            &dir,
            &program,
            &[
                "--reference",
                &program,
                "--csv",
                csv.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(run.status.code(), Some(0), "{program}: {}", text(&run));

        let rows = csv_rows(&csv);
        let row = |name: &str| rows.iter().find(|r| r["submission"] == name).expect("a row");
        let outcome = |name: &str| (row(name)["softplus"].clone(), row(name)["gru_cell"].clone());
        let score = |name: &str| row(name)["score"].parse::<f64>().expect("a score");
        assert_eq!(outcome("alice"), ("pass".into(), "pass".into()), "{program}");
        assert_eq!((score("alice"), row("alice")["max_score"].as_str()), (4.0, "4"));
        assert_eq!(outcome("bob"), ("pass".into(), "fail".into()), "{program}");
        assert_eq!(score("bob"), 1.0, "gru_cell's 3 points lost");
        assert!(row("bob")["codes"].contains("gru_cell:sign"), "{:?}", row("bob"));
        assert_eq!(outcome("carol").1, "fail");
        assert!(
            row("carol")["reason"].contains("dL/dh: wrong values"),
            "{:?}",
            row("carol")
        );
        assert!(
            !row("carol")["reason"].contains("dL/dx"),
            "only dL/dh: {:?}",
            row("carol")
        );
        assert_eq!(outcome("dave"), ("fail".into(), "pass".into()));
        assert!(
            row("dave")["codes"].contains("softplus:upstream_ignored"),
            "{:?}",
            row("dave")
        );
        assert_eq!(outcome("erin"), ("fail".into(), "pass".into()));
        assert!(
            row("erin")["reason"].contains("the forward's y"),
            "{:?}",
            row("erin")
        );

        // Gradescope's results for bob: a test per op, with its points.
        let results: Value =
            serde_json::from_slice(&fs::read(out.join("bob/results.json")).expect("results.json")).unwrap();
        assert_eq!(results["score"], 1.0);
        let gru = (results["tests"].as_array().unwrap().iter())
            .find(|t| t["name"].as_str().unwrap_or_default().contains("gru_cell"))
            .expect("a test for gru_cell");
        assert_eq!(
            (gru["score"].as_f64(), gru["max_score"].as_f64()),
            (Some(0.0), Some(3.0))
        );

        // Without a reference, each submission's own forward is the oracle: the same verdicts.
        let csv_fd = dir.join("fd.csv");
        let run = grade(&dir, &program, &["--csv", csv_fd.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(0), "{program}: {}", text(&run));
        let by_fd = csv_rows(&csv_fd);
        for (name, _) in CLASS {
            let fd = by_fd.iter().find(|r| r["submission"] == name).expect("a row");
            assert_eq!(
                (&fd["softplus"], &fd["gru_cell"]),
                (&row(name)["softplus"], &row(name)["gru_cell"]),
                "{program} {name}"
            );
        }

        // A wrong solution grades no one; points for an op the spec lacks are refused.
        let refused = dir.join("refused.csv");
        let wrong = format!("{program} sign");
        let run = grade(
            &dir,
            &program,
            &["--reference", &wrong, "--csv", refused.to_str().unwrap()],
        );
        assert_eq!(run.status.code(), Some(2), "{}", text(&run));
        assert!(
            text(&run).contains("gradverify grade: argument `--reference`"),
            "{}",
            text(&run)
        );
        assert!(!refused.exists(), "no one graded");
        let run = grade(&dir, &program, &["--op", "softplus"]);
        assert_eq!(
            run.status.code(),
            Some(2),
            "gru_cell has points but is not graded"
        );
        assert!(
            text(&run).contains("argument `points` is gru_cell") && text(&run).contains("(softplus)"),
            "{}",
            text(&run)
        );
        fs::remove_dir_all(&dir).expect("remove the scratch folder");
    }
    let _ = fs::remove_file(binary("grade"));
}

/// `verify --op softplus` of `program` in `format`, with softplus worth 2 points.
fn verify(program: &str, format: &str, more: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "verify",
            "--exec",
            program,
            "--spec",
            "examples/ops/ops.toml",
            "--op",
            "softplus",
        ])
        .args(["--cases", "4", "--points", "softplus=2", "--format", format])
        .args(more)
        .current_dir(ROOT)
        .output()
        .expect("run gradverify verify")
}

#[test]
fn verify_writes_every_graders_format_for_an_op_a_program_brings() {
    for program in programs("formats") {
        let results = |program: &str| -> Value {
            let out = verify(program, "gradescope", &[]);
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
        };
        let right = results(&program);
        assert_eq!(
            (right["score"].as_f64(), right["tests"][0]["max_score"].as_f64()),
            (Some(2.0), Some(2.0))
        );
        let wrong = results(&format!("{program} upstream"));
        assert_eq!(wrong["score"].as_f64(), Some(0.0), "{wrong}");
        assert!(
            wrong["tests"][0]["output"].as_str().unwrap().contains("upstream"),
            "{wrong}"
        );

        let junit = verify(&format!("{program} upstream"), "junit", &[]);
        let xml = String::from_utf8_lossy(&junit.stdout);
        assert_eq!(junit.status.code(), Some(1), "{xml}");
        assert!(
            xml.contains("<testcase") && xml.contains("softplus") && xml.contains("<failure"),
            "{xml}"
        );
        let autolab = verify(&program, "autolab", &[]);
        let last = String::from_utf8_lossy(&autolab.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        let scores: Value = serde_json::from_str(&last).expect("Autolab's last line is JSON");
        assert_eq!(
            scores["scores"]["softplus"].as_f64(),
            Some(2.0),
            "{}",
            text(&autolab)
        );

        let page = std::env::temp_dir().join(format!("gradverify-op-page-{}.html", std::process::id()));
        let _ = fs::remove_file(&page);
        let page_run = verify(
            &format!("{program} upstream"),
            "text",
            &["--html", page.to_str().unwrap()],
        );
        assert!(text(&page_run).contains("0 of 1 ops pass"), "{}", text(&page_run));
        let html = fs::read_to_string(&page).expect("the page");
        assert!(
            html.contains("softplus") && html.contains("upstream_ignored"),
            "the page names the op and its diagnosis"
        );
        fs::remove_file(&page).expect("remove the page");

        let other = verify(&program, "gradescope", &["--points", "gru_cell=1"]);
        assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    }
    let _ = fs::remove_file(binary("formats"));
}

/// `gradverify grade` of the class in `dir` (each student's program given its planted bug), run
/// from the crate's folder, the ops and their oracle as `more` says.
fn grade_ops(dir: &Path, program: &str, more: &[&str]) -> Output {
    Command::new(BIN)
        .arg("grade")
        .arg(dir.join("class"))
        .args([
            "--exec",
            &format!("{program} $(cat bug)"),
            "--cases",
            "4",
            "--quiet",
        ])
        .args(more)
        .current_dir(ROOT)
        .output()
        .expect("run gradverify grade")
}

#[test]
fn the_instructors_description_gives_the_ops_and_order_2_grades_the_double_backward() {
    for program in programs("grade-described") {
        let program = program.replace("examples/", &format!("{ROOT}/examples/"));
        let dir = std::env::temp_dir().join(format!("gradverify-grade-described-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        write_class(&dir.join("class"));
        fs::create_dir_all(dir.join("class/frank")).expect("create a submission folder");
        fs::write(dir.join("class/frank/bug"), "second").expect("write the planted bug");

        // The ops the solution describes are the spec's: the same verdicts as with --spec.
        let (by_spec, by_description) = (dir.join("spec.csv"), dir.join("described.csv"));
        let sources: [(&[&str], &Path); 2] = [
            (&["--spec", "examples/ops/ops.json"], &by_spec),
            (&["--described"], &by_description),
        ];
        for (source, csv) in sources {
            let mut args = vec!["--reference", &program, "--csv", csv.to_str().unwrap()];
            args.extend(source);
            let run = grade_ops(&dir, &program, &args);
            assert_eq!(run.status.code(), Some(0), "{program} {source:?}: {}", text(&run));
        }
        let outcomes = |csv: &Path| -> Vec<(String, String, String)> {
            (csv_rows(csv).into_iter())
                .map(|r| {
                    (
                        r["submission"].clone(),
                        r["softplus"].clone(),
                        r["gru_cell"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(outcomes(&by_spec), outcomes(&by_description), "{program}");
        assert_eq!(outcomes(&by_spec).len(), 6, "{program}");

        // Order 2 on softplus: frank's double backward drops its 1 − σ; order 1 passes him.
        let second = dir.join("second.csv");
        let run = grade_ops(
            &dir,
            &program,
            &[
                "--described",
                "--reference",
                &program,
                "--op",
                "softplus",
                "--order",
                "2",
            ],
        );
        assert_eq!(run.status.code(), Some(0), "{program}: {}", text(&run));
        let run = grade_ops(
            &dir,
            &program,
            &[
                "--spec",
                "examples/ops/ops.json",
                "--op",
                "softplus",
                "--order",
                "2",
                "--csv",
                second.to_str().unwrap(),
            ],
        );
        assert_eq!(run.status.code(), Some(0), "{program}: {}", text(&run));
        let rows = csv_rows(&second);
        let row = |name: &str| rows.iter().find(|r| r["submission"] == name).expect("a row");
        assert_eq!(row("alice")["softplus"], "pass", "{:?}", row("alice"));
        assert_eq!(row("frank")["softplus"], "fail", "{:?}", row("frank"));
        assert!(
            row("frank")["reason"].contains("second order"),
            "{:?}",
            row("frank")
        );
        let frank_first = (csv_rows(&by_spec).into_iter()).find(|r| r["submission"] == "frank");
        assert_eq!(
            frank_first.expect("a row")["softplus"],
            "pass",
            "order 1 does not ask it"
        );

        // A solution without gru_cell's double backward would fail everyone's: refused.
        let run = grade_ops(
            &dir,
            &program,
            &["--described", "--reference", &program, "--order", "2"],
        );
        assert_eq!(run.status.code(), Some(2), "{}", text(&run));
        assert!(
            text(&run).contains("does not answer `second_backward` for gru_cell"),
            "{}",
            text(&run)
        );

        // --described asks the solution, never a student: without --reference it is refused.
        let run = grade_ops(&dir, &program, &["--described"]);
        assert_eq!(run.status.code(), Some(2), "{}", text(&run));
        assert!(text(&run).contains("--reference"), "{}", text(&run));
        fs::remove_dir_all(&dir).expect("remove the scratch folder");
    }
    let _ = fs::remove_file(binary("grade-described"));
}
