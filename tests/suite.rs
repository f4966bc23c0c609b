//! Every integration test, in one test binary: `cargo test --release` links the crate into one
//! executable instead of one per file (22 links and 22 copies of the same generic code: about a
//! third of a fresh clone's test build), and runs all of them on the test harness's threads
//! together, so that the files whose tests wait on child processes overlap with the others.
//! Each file below is a module of its own; `cargo test --release <file>::` runs one of them.

mod common;

mod aliases;
mod bad_input;
mod browser;
mod cli;
mod containment;
mod cost_model;
mod course_bugs;
mod exec;
mod forward_calls;
mod golden;
mod golden_course_ops;
mod grade;
mod grade_program_ops;
mod labels;
mod layers;
mod linearity;
mod local_forward;
mod mutations;
mod network_fd;
mod no_false_alarms;
mod notes;
mod opcheck;
mod oracle_controls;
mod oracles;
mod program_ops;
mod projection;
mod real_bugs;
mod ref_ops_a;
mod ref_ops_b;
mod reference;
mod restarts;
mod second_order;
mod serve;
mod sweep;
mod tables;
mod trust_any_op;
mod trust_oracles;
mod trust_peers;
