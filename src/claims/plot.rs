//! A log-log plot of the modelled backward cost against the width D, both roads, one line per
//! op: the VJP road solid, the Jacobian road dashed, at batch size 1. The slopes are the
//! exponents of Sec. 4.1: relu's Jacobian road rises as D², its VJP as D.

use std::path::Path;

use plotters::prelude::*;

use crate::catalogue::OpKind;
use crate::cost::{CostRow, CostTable};
use crate::error::{Error, Result};

/// One colour per op, in the order the table lists them: Tableau's twenty, the ten dark
/// ones first, so that up to twenty ops are told apart (a table of more ops is refused).
const COLOURS: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// The ops of `rows`, in their first appearance's order.
fn ops_of(rows: &[&CostRow]) -> Vec<OpKind> {
    let mut ops: Vec<OpKind> = Vec::new();
    for r in rows {
        if !ops.contains(&r.op) {
            ops.push(r.op);
        }
    }
    ops
}

/// Writes the plot of `table`'s B = 1 rows to `path` as SVG.
pub fn cost_svg(table: &CostTable, path: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let rows: Vec<_> = table.rows.iter().filter(|r| r.batch == 1).collect();
    let (mut d_lo, mut d_hi, mut f_lo, mut f_hi) = (f64::MAX, 1.0_f64, f64::MAX, 1.0_f64);
    for r in &rows {
        d_lo = d_lo.min(r.width as f64);
        d_hi = d_hi.max(r.width as f64);
        f_lo = f_lo.min(r.cost.vjp.flops.max(1) as f64);
        f_hi = f_hi.max(r.cost.jacobian.flops as f64);
    }
    if rows.is_empty() {
        return Err(Error::Output {
            path: path.display().to_string(),
            message: "the table has no rows at B = 1 to plot".into(),
        });
    }
    let ops = ops_of(&rows);
    if ops.len() > COLOURS.len() {
        return Err(Error::Output {
            path: path.display().to_string(),
            message: format!(
                "{} ops to plot, but colours for only {}",
                ops.len(),
                COLOURS.len()
            ),
        });
    }
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Backward cost against width D (B = 1): VJP solid, explicit Jacobian dashed",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((d_lo..d_hi).log_scale(), (f_lo / 2.0..f_hi * 2.0).log_scale())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("width D")
        .y_desc("flops (model)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| fail(&e))?;
    for (op, colour) in ops.into_iter().zip(COLOURS) {
        let points = |jacobian: bool| -> Vec<(f64, f64)> {
            rows.iter()
                .filter(|r| r.op == op)
                .map(|r| {
                    let w = if jacobian { r.cost.jacobian } else { r.cost.vjp };
                    (r.width as f64, w.flops.max(1) as f64)
                })
                .collect()
        };
        chart
            .draw_series(LineSeries::new(points(false), colour.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(op.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(points(true), 8, 5, colour.stroke_width(2)))
            .map_err(|e| fail(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
