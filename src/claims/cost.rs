//! The two quantitative claims of the notes, as tables.
//!
//! **Sec. 4.1, cost.** An explicit Jacobian has `out.len() × in.len()` entries, so building and
//! contracting it (Eq. 36, 45) costs O(D²) for relu where the VJP (Eq. 47) costs O(D), and
//! O(D³)-sized Jacobians for linear against the O(D²) products of Eq. 66/70. [`CostTable`] lists
//! the flops and bytes of both roads from the ops' cost models, for each op alone and for the
//! Eq. 33 network (widths D, D, D, D/4), whose figures are the sum over exactly the ops its
//! backward visits ([`Tape::backward_cost`]).
//!
//! **Sec. 4.2, memory.** Backprop keeps every value of the forward pass for the backward; an
//! inference-only forward can free each value after its last use. [`MemoryTable`] compares the
//! bytes a recorded tape retains ([`Tape::retained_bytes`]) with the peak of such a forward
//! ([`Tape::inference_peak_bytes`]), for chains of `depth` linear+relu layers. Parameters are
//! needed by both and left out of both.

use std::fmt::{self, Write as _};

use ndarray::{ArrayD, arr0};

use crate::catalogue::OpKind;
use crate::error::Result;
use crate::ops::{Cost, Linear, Relu, SqErr};
use crate::tape::{Tape, Var};
use crate::verify::ops;

/// The widths D of the cost table.
pub const SIZES: [usize; 5] = [4, 16, 64, 256, 1024];
/// The batch sizes B of the cost table.
pub const BATCHES: [usize; 2] = [1, 32];
/// The depths (hidden linear+relu layers) of the memory table.
pub const DEPTHS: [usize; 4] = [1, 2, 4, 8];
/// The widths of the memory table.
pub const MEMORY_WIDTHS: [usize; 3] = [16, 128, 1024];
/// The batch size of the memory table.
pub const MEMORY_BATCH: usize = 32;

/// One op (or the network) at one size, both roads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostRow {
    /// Which op.
    pub op: OpKind,
    /// Batch size B.
    pub batch: usize,
    /// Width D.
    pub width: usize,
    /// Flops and bytes of both roads.
    pub cost: Cost,
}

/// The modelled cost of both roads for every op, width and batch size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostTable {
    /// Rows by op, then batch, then width.
    pub rows: Vec<CostRow>,
}

/// The modelled backward cost of `op` at batch `batch` and width `width`: every input's
/// gradient for the ops alone, every parameter's for the network; `None` where the op is not
/// defined at that size (batchnorm at B = 1).
pub fn model_cost(op: OpKind, batch: usize, width: usize) -> Result<Option<Cost>> {
    ops::op(op).model_cost(batch, width)
}

impl CostTable {
    /// The table for [`SIZES`] × [`BATCHES`].
    pub fn standard() -> Result<CostTable> {
        CostTable::for_sizes(&SIZES, &BATCHES)
    }

    /// The table for the given widths and batch sizes (an op's row is left out at a size where
    /// it is not defined).
    pub fn for_sizes(sizes: &[usize], batches: &[usize]) -> Result<CostTable> {
        let mut rows = Vec::new();
        for &op in ops::all() {
            for &batch in batches {
                for &width in sizes {
                    if let Some(cost) = model_cost(op, batch, width)? {
                        rows.push(CostRow {
                            op,
                            batch,
                            width,
                            cost,
                        });
                    }
                }
            }
        }
        Ok(CostTable { rows })
    }

    /// The table as a Markdown table, for pasting.
    pub fn markdown(&self) -> String {
        COST_COLUMNS.markdown(self.rows.iter().map(CostRow::cells))
    }
}

/// A table's layout: column names, their widths in the terminal, and how many leading columns
/// align left (the rest align right); rendered aligned for the terminal or as Markdown.
struct Columns<const N: usize> {
    header: [&'static str; N],
    widths: [usize; N],
    left: usize,
}

impl<const N: usize> Columns<N> {
    /// One line of cells, aligned to the widths, one space apart.
    fn line(&self, cells: &[String]) -> String {
        let mut line = String::new();
        for (k, (cell, &width)) in cells.iter().zip(&self.widths).enumerate() {
            let space = if k == 0 { "" } else { " " };
            let _ = if k < self.left {
                write!(line, "{space}{cell:<width$}")
            } else {
                write!(line, "{space}{cell:>width$}")
            };
        }
        line
    }

    /// The header line for the terminal.
    fn header_line(&self) -> String {
        self.line(&self.header.map(str::to_owned))
    }

    /// A Markdown table of `rows`.
    fn markdown(&self, rows: impl Iterator<Item = [String; N]>) -> String {
        let mut out = format!(
            "| {} |\n|{}{}\n",
            self.header.join(" | "),
            "---|".repeat(self.left),
            "---:|".repeat(N - self.left)
        );
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}

/// The cost table's layout.
const COST_COLUMNS: Columns<9> = Columns {
    header: [
        "op",
        "B",
        "D",
        "VJP flops",
        "Jacobian flops",
        "ratio",
        "VJP bytes",
        "Jacobian bytes",
        "ratio",
    ],
    widths: [12, 3, 5, 10, 14, 9, 10, 14, 9],
    left: 1,
};

/// The memory table's layout.
const MEMORY_COLUMNS: Columns<6> = Columns {
    header: [
        "depth",
        "width",
        "B",
        "retained for backward",
        "inference peak",
        "ratio",
    ],
    widths: [5, 6, 3, 22, 15, 7],
    left: 0,
};

impl CostRow {
    /// The row's cells, with units, in [`COST_COLUMNS`]' order.
    fn cells(&self) -> [String; 9] {
        let c = self.cost;
        [
            self.op.name().to_owned(),
            self.batch.to_string(),
            self.width.to_string(),
            flops(c.vjp.flops),
            flops(c.jacobian.flops),
            ratio(c.jacobian.flops, c.vjp.flops),
            bytes(c.vjp.bytes),
            bytes(c.jacobian.bytes),
            ratio(c.jacobian.bytes, c.vjp.bytes),
        ]
    }
}

impl fmt::Display for CostTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Backward cost, VJP (Eq. 47, 66, 70, 74) against explicit Jacobians (Eq. 36, 45), by the cost models"
        )?;
        writeln!(
            f,
            "(mlp: widths D, D, D, D/4; flops count a multiply-add as 2; bytes are the f64 arrays each road allocates)"
        )?;
        writeln!(f, "{}", COST_COLUMNS.header_line())?;
        for row in &self.rows {
            writeln!(f, "{}", COST_COLUMNS.line(&row.cells()))?;
        }
        Ok(())
    }
}

/// One chain of linear+relu layers: what backprop retains against what inference needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRow {
    /// Hidden linear+relu layers.
    pub depth: usize,
    /// Their width.
    pub width: usize,
    /// Batch size.
    pub batch: usize,
    /// Bytes the tape retains for the backward.
    pub retained: u64,
    /// Peak bytes of a forward that frees each value after its last use.
    pub inference_peak: u64,
}

/// Memory of backprop against inference across depth and width (Sec. 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTable {
    /// Rows by width, then depth.
    pub rows: Vec<MemoryRow>,
}

/// Records `depth` layers `h_k = relu(h_(k−1) W_k + b_k)` of width `width` on a batch of `batch`,
/// then `f = h W + b` and `L = sqerr(f, y)`, all zeros (only the shapes matter here).
pub fn chain(depth: usize, width: usize, batch: usize) -> Result<(Tape<'static>, Var)> {
    let mut tape = Tape::new();
    let zeros = |shape: &[usize]| ArrayD::<f64>::zeros(shape);
    let mut h = tape.data("x", zeros(&[batch, width]));
    for k in 1..=depth + 1 {
        let w = tape.param(&format!("W{k}"), zeros(&[width, width]));
        let b = tape.param(&format!("b{k}"), zeros(&[width]));
        let a = tape.apply(&format!("a{k}"), Linear, &[h, w, b])?;
        h = if k <= depth {
            tape.apply(&format!("h{k}"), Relu, &[a])?
        } else {
            a
        };
    }
    let y = tape.data("y", zeros(&[batch, width]));
    let loss = tape.apply("L", SqErr, &[h, y])?;
    debug_assert_eq!(tape.value(loss), arr0(0.0).into_dyn());
    Ok((tape, loss))
}

impl MemoryTable {
    /// The table for [`DEPTHS`] × [`MEMORY_WIDTHS`] at [`MEMORY_BATCH`].
    pub fn standard() -> Result<MemoryTable> {
        let mut rows = Vec::new();
        for &width in &MEMORY_WIDTHS {
            for &depth in &DEPTHS {
                let (tape, loss) = chain(depth, width, MEMORY_BATCH)?;
                rows.push(MemoryRow {
                    depth,
                    width,
                    batch: MEMORY_BATCH,
                    retained: tape.retained_bytes(),
                    inference_peak: tape.inference_peak_bytes(loss)?,
                });
            }
        }
        Ok(MemoryTable { rows })
    }

    /// The table as a Markdown table, for pasting.
    pub fn markdown(&self) -> String {
        MEMORY_COLUMNS.markdown(self.rows.iter().map(MemoryRow::cells))
    }
}

impl MemoryRow {
    /// The row's cells, with units, in [`MEMORY_COLUMNS`]' order.
    fn cells(&self) -> [String; 6] {
        [
            self.depth.to_string(),
            self.width.to_string(),
            self.batch.to_string(),
            bytes(self.retained),
            bytes(self.inference_peak),
            ratio(self.retained, self.inference_peak),
        ]
    }
}

impl fmt::Display for MemoryTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Memory of the forward pass (Sec. 4.2): what the tape retains for backward against"
        )?;
        writeln!(
            f,
            "the peak of an inference-only forward that frees each value after its last use (parameters excluded)"
        )?;
        writeln!(f, "{}", MEMORY_COLUMNS.header_line())?;
        for row in &self.rows {
            writeln!(f, "{}", MEMORY_COLUMNS.line(&row.cells()))?;
        }
        Ok(())
    }
}

/// Flops with an SI prefix: `1.05 G`.
pub fn flops(n: u64) -> String {
    scaled(n as f64, 1000.0, &["", " k", " M", " G", " T", " P"])
}

/// Bytes with a binary prefix: `8.00 MiB`.
pub fn bytes(n: u64) -> String {
    scaled(n as f64, 1024.0, &[" B", " KiB", " MiB", " GiB", " TiB", " PiB"])
}

fn scaled(mut value: f64, base: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0}{}", units[0])
    } else {
        format!("{value:.2}{}", units[unit])
    }
}

/// `a / b` to three significant figures: `×2.82`, `×32.9`, `×129`.
pub fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return "—".to_owned();
    }
    let r = a as f64 / b as f64;
    match r {
        r if r >= 100.0 => format!("×{r:.0}"),
        r if r >= 10.0 => format!("×{r:.1}"),
        r => format!("×{r:.2}"),
    }
}
