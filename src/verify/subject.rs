//! Who answers a request: anything that is a [`Backward`] (a Rust function, a program over the
//! protocol in `super::exec`), and the Rust function's side of it: a closure that turns a request
//! into the function's arguments and its results into an answer ([`Closure`]), with a panic
//! caught and reported as the call's fault, the default panic hook silenced for those calls only,
//! on the calling thread ([`catching_panics`]).

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use super::report::Fault;
use crate::catalogue::{Answer, Request};

/// Anything that answers a request with gradients.
pub trait Backward {
    /// A short name for reports (`linear_backward`, `python3 student.py`).
    fn label(&self) -> String;
    /// The gradients for `request`, keyed by input name.
    fn answer(&mut self, request: &Request) -> Result<Answer, Fault>;
    /// Whether it ever answered anything (a program that wrote a line); a subject that never
    /// did, and only timed out, is diagnosed `no_answer` (an unflushed standard output).
    fn has_answered(&self) -> bool {
        false
    }
}

/// A Rust function as a [`Backward`]: `call` turns a request into the function's arguments
/// and its results into an answer.
pub(crate) struct Closure<C> {
    pub(crate) label: String,
    pub(crate) call: C,
}

impl<C: Fn(&Request) -> Answer> Backward for Closure<C> {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        catching(|| (self.call)(request)).map_err(Fault::Panicked)
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}
static QUIET_HOOK: Once = Once::new();

/// Runs `f`, turning a panic into `Err("panicked: …")` without printing it.
pub(crate) fn catching_panics<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catching(f).map_err(|message| format!("panicked: {message}"))
}

/// Runs `f`, turning a panic into `Err` with the panic's message, without printing it.
fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string payload)".to_owned()
    }
}

/// The function's name for reports: `linear_backward` for a named function, `closure` else.
pub(crate) fn label<F>() -> String {
    let full = std::any::type_name::<F>();
    if full.contains("{{closure}}") {
        return "closure".to_owned();
    }
    full.rsplit("::").next().unwrap_or(full).to_owned()
}
