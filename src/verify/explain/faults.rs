//! The fault codes: what kept a program (or a function) from answering, as the CSV, the JSON and
//! the autograder outputs name it (`relu:exited`), with what happened and what to do. They are
//! the kinds of `verify::Fault`, and the two outcomes of a budget, `out_of_time` and `not_run`.

/// Each fault code with its explanation, in the order of a program's life.
pub(super) const FAULTS: &[(&str, &str)] = &[
    ("cannot_start", CANNOT_START),
    ("unsupported", UNSUPPORTED),
    ("panicked", PANICKED),
    ("raised", RAISED),
    ("failed", FAILED),
    ("exited", EXITED),
    ("gave_up", GAVE_UP),
    ("timed_out", TIMED_OUT),
    ("stopped_answering", STOPPED_ANSWERING),
    ("protocol", PROTOCOL),
    ("missing_key", MISSING_KEY),
    ("line_too_long", LINE_TOO_LONG),
    ("closed_stdout", CLOSED_STDOUT),
    ("closed_stdin", CLOSED_STDIN),
    ("child_kept_stdout_open", CHILD_KEPT_STDOUT_OPEN),
    ("out_of_time", OUT_OF_TIME),
    ("not_run", NOT_RUN),
];

const CANNOT_START: &str = "\
cannot_start: the command could not be run

The shell exited with 126 (not executable) or 127 (not found) before any answer:
the command, the interpreter or the file does not exist where it was looked for.

What to do: run the command by hand in the submission's folder; check its path,
`chmod +x`, and the interpreter's name (`python3`, not `python`).
";

const UNSUPPORTED: &str = "\
unsupported: the program answered \"unsupported op\"

The program says it has not written this op (protocol v1: an answer
{\"id\": …, \"error\": \"unsupported op\"}). The op is reported as not implemented
and scores nothing; no other op is affected.

What to do: write the op's backward, or leave it if it is not assigned yet.
";

const PANICKED: &str = "\
panicked: the Rust function under test panicked

The call did not return: a Rust panic (an index out of bounds, an `unwrap` of
`None`, a shape mismatch in ndarray), with its message. The case fails; the next
case is asked as usual. (A Python function that raises is `raised`.)

What to do: run the case shown (its shape is in the report) and read the message;
an index out of range or a shape mismatch usually means a transposed or
mis-sized intermediate.
";

const RAISED: &str = "\
raised: your Python function raised an exception

The function checked in-process (`gradverify.check_linear(...)`, `check_op`, …)
raised instead of returning its gradients: the report shows the exception
(`your function raised ValueError: …`) with its traceback. The case fails; the
next case is asked as usual, and the check goes on (a KeyboardInterrupt stops it).

What to do: read the traceback's last lines, and call the function yourself on
the case's shape (it is in the report); a `ValueError: operands could not be
broadcast together` or an `IndexError` usually means a transposed or mis-sized
intermediate (`W` where `W.T` belongs, a sum over the wrong axis).
";

const FAILED: &str = "\
failed: the call failed for a reason said in the message

A failure that is none of the named kinds: a custom op's closure that returned an
error, a request refused because the submission's time budget was spent, a
program that could not be started again after it died.

What to do: read the message; it names the cause.
";

const EXITED: &str = "\
exited: the program exited while it was being asked

The process ended (an exception, `sys.exit`, a crash, a signal such as 137 for a
kill at the memory or CPU limit) with a request unanswered. The report shows its
exit status and its last lines of standard error. The case at hand fails; the
program is started again for the next case, at most 3 times an op.

What to do: read the last lines of standard error in the report (the traceback);
run the op's smallest failing case by hand.
";

const GAVE_UP: &str = "\
gave_up: the program died again after 3 restarts in this op

The program exited or stopped answering, was started again, and ended again, three
times in the same op; its remaining cases of that op were not asked. The finding
shows the fault that ended it. The next op starts the program afresh, so only
this op is lost.

What to do: fix the fault the finding shows (see `exited`, `stopped_answering`).
";

const TIMED_OUT: &str = "\
timed_out: no answer within the time limit

One request got no answer within `--timeout` seconds (10 by default). A late
answer is recognised by its id and skipped. Two in a row are taken as the program
having stopped (`stopped_answering`).

What to do: time the op on the case's shape; a loop over every element in plain
Python is slow at large shapes but fine here. If the program never answered
anything at all, see `no_answer`.
";

const STOPPED_ANSWERING: &str = "\
stopped_answering: several requests in a row got no answer in time

The program is taken to hang (an infinite loop, a read of standard input that
waits for more than one line, a deadlock) and is stopped; it is started again for
the next case, at most 3 times an op.

What to do: read one request a line and answer each at once; check loops for an
exit condition. If it never answered anything, see `no_answer`.
";

const PROTOCOL: &str = "\
protocol: the answer broke protocol v1

The line was not JSON, had the wrong id, held a non-number or a ragged matrix,
or was not an object of gradients (`docs/protocol-v1.md`). The message quotes
what came.

What to do: print exactly one JSON object a line, `{\"id\": ID, \"grads\": {…}}`,
and nothing else on standard output (debug prints go to standard error).
";

const MISSING_KEY: &str = "\
missing_key: the answer lacks an input's gradient

Every differentiated input of the op must have its gradient in `grads`, named as
in the request (`h`, `W`, `b`); labels and indices have none.

What to do: return every gradient, under the input's own name.
";

const LINE_TOO_LONG: &str = "\
line_too_long: an answer line longer than the limit

One line of standard output was far longer than the request's gradients can
need (64 MiB at most), or was still growing past that when the time was up (its
newline never came); it was read through and not kept, and the case fails. The
program goes on with the next request; one that then answers nothing more is
stopped with this fault rather than `stopped_answering`.

What to do: print one answer a line and flush after its newline; an answer that
large is usually a loop that printed every intermediate, or a missing newline
between answers.
";

const CLOSED_STDOUT: &str = "\
closed_stdout: the program closed its standard output and went on running

No answer can arrive any more, so the program is stopped and started again.

What to do: do not close `sys.stdout` (or file descriptor 1), and keep the read
loop running until standard input ends.
";

const CLOSED_STDIN: &str = "\
closed_stdin: the program closed its standard input and went on running

It can receive no more requests, so it is stopped and started again.

What to do: read requests from standard input one line at a time until it ends;
do not close it.
";

const CHILD_KEPT_STDOUT_OPEN: &str = "\
child_kept_stdout_open: the program exited, but a process it started holds its
standard output

A child (a background job, a forked helper) inherited the program's standard
output and keeps it open after the program itself has exited. It is killed with
the program's whole process group.

What to do: wait for the processes you start, or do not hand them standard
output.
";

const OUT_OF_TIME: &str = "\
out_of_time: the submission's time budget ran out in this op

`grade --budget-seconds` bounds each submission's whole run. The op whose cases
were being asked when the budget was spent scores nothing; the ops after it are
`not_run`.

What to do (staff): raise the budget, or check why the program is slow (each
answer's time is in the report). Students: answer each request at once.
";

const NOT_RUN: &str = "\
not_run: the op was not asked at all

The submission's time budget ran out before this op (see `out_of_time`), or the
command could not start (`cannot_start`). It scores nothing; its reason says
which.

What to do: fix the cause the reason names; the op itself was not judged.
";
