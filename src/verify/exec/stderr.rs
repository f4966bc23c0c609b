//! A program's standard error, drained for as long as the program writes it and kept only as a
//! ring of its last [`STDERR_LINES`] lines, each cut at [`STDERR_LINE_BYTES`] bytes. Bytes are
//! decoded lossily: a Latin-1 log line is shown with U+FFFD, never a reason to stop reading
//! (which would close the pipe and kill a correct program with SIGPIPE).

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::protocol::lines::{LineReader, printable};

/// How many lines of standard error are kept.
pub const STDERR_LINES: usize = 8;
/// How many bytes of one line of standard error are kept.
pub const STDERR_LINE_BYTES: usize = 1024;

/// The last lines of a stream, read on a thread of their own.
pub struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    closed: Arc<AtomicBool>,
}

impl StderrTail {
    /// Reads `stream` to its end on a new thread, keeping its last lines.
    pub fn follow(stream: impl Read + Send + 'static) -> StderrTail {
        let lines = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        let closed = Arc::new(AtomicBool::new(false));
        let (keep, done) = (Arc::clone(&lines), Arc::clone(&closed));
        thread::spawn(move || {
            for line in LineReader::new(BufReader::new(stream), STDERR_LINE_BYTES) {
                let Ok(line) = line else { break };
                let mut text = line.text;
                if line.cut {
                    text.push_str(&format!("… ({} bytes)", line.len));
                }
                let mut tail = keep.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(printable(&text));
            }
            done.store(true, Ordering::Release);
        });
        StderrTail { lines, closed }
    }

    /// The last lines read so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The last lines, after waiting up to `grace` for the stream to close (so that what a
    /// program wrote just before it exited is in).
    pub fn lines_when_closed(&self, grace: Duration) -> Vec<String> {
        let start = Instant::now();
        while !self.closed.load(Ordering::Acquire) && start.elapsed() < grace {
            thread::sleep(Duration::from_millis(5));
        }
        self.lines()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_each_cut_and_decodes_latin_1() {
        let mut input = Vec::new();
        for k in 0..20 {
            input.extend_from_slice(format!("line {k}\n").as_bytes());
        }
        input.extend_from_slice(b"caf\xe9\n");
        input.extend(std::iter::repeat_n(b'x', 5000));
        let tail = StderrTail::follow(std::io::Cursor::new(input));
        let lines = tail.lines_when_closed(Duration::from_secs(60));
        assert_eq!(lines.len(), STDERR_LINES);
        assert_eq!(lines[0], "line 14");
        assert_eq!(lines[6], "caf\u{fffd}");
        assert!(lines[7].ends_with("… (5000 bytes)"), "{}", lines[7]);
        assert_eq!(lines[7].len(), STDERR_LINE_BYTES + "… (5000 bytes)".len());
    }
}
