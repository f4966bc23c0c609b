//! A log-log plot of the modelled backward cost against the width D, both roads, at batch size
//! 1: one panel per family of ops (the notes' ops, activations, losses, normalisation, images,
//! sequences, as each op's spec says), one colour per op, the VJP road solid and the Jacobian road
//! dashed, every panel on the same axes. The slopes are the exponents of Sec. 4.1: relu's
//! Jacobian road rises as D², its VJP as D.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::catalogue::OpKind;
use crate::cost::{CostRow, CostTable};
use crate::error::{Error, Result};

/// One colour per op of a panel, in the order the table lists them: Tableau's dark ones.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Panels per row of the figure.
const PANELS_PER_ROW: usize = 3;
/// One panel's size in pixels.
const PANEL: (u32, u32) = (480, 340);

/// The families of `rows`, each with its ops, in their first appearance's order.
fn families(rows: &[&CostRow]) -> Vec<(&'static str, Vec<OpKind>)> {
    let mut families: Vec<(&'static str, Vec<OpKind>)> = Vec::new();
    for r in rows {
        let family = r.op.spec().family;
        match families.iter_mut().find(|(f, _)| *f == family) {
            Some((_, ops)) if !ops.contains(&r.op) => ops.push(r.op),
            Some(_) => {}
            None => families.push((family, vec![r.op])),
        }
    }
    families
}

/// The axes every panel shares: (D range, flops range).
struct Axes {
    d: (f64, f64),
    flops: (f64, f64),
}

/// Writes the plot of `table`'s B = 1 rows to `path` as SVG.
pub fn cost_svg(table: &CostTable, path: &Path) -> Result<()> {
    let fail = |message: String| Error::Output {
        path: path.display().to_string(),
        message,
    };
    let rows: Vec<_> = table.rows.iter().filter(|r| r.batch == 1).collect();
    if rows.is_empty() {
        return Err(fail("the table has no rows at B = 1 to plot".into()));
    }
    let families = families(&rows);
    if let Some((family, ops)) = families.iter().find(|(_, ops)| ops.len() > COLOURS.len()) {
        return Err(fail(format!(
            "{} ops of the family {family} to plot in one panel, but colours for only {}",
            ops.len(),
            COLOURS.len()
        )));
    }
    let axes = Axes {
        d: (
            rows.iter().map(|r| r.width as f64).fold(f64::MAX, f64::min),
            rows.iter().map(|r| r.width as f64).fold(1.0, f64::max),
        ),
        flops: (
            rows.iter()
                .map(|r| r.cost.vjp.flops.max(1) as f64)
                .fold(f64::MAX, f64::min)
                / 2.0,
            rows.iter()
                .map(|r| r.cost.jacobian.flops as f64)
                .fold(1.0, f64::max)
                * 2.0,
        ),
    };
    let grid = (
        families.len().div_ceil(PANELS_PER_ROW),
        families.len().min(PANELS_PER_ROW),
    );
    let size = (PANEL.0 * grid.1 as u32, PANEL.1 * grid.0 as u32 + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
    let root = root
        .titled(
            "Backward cost against width D (B = 1): VJP solid, explicit Jacobian dashed",
            ("sans-serif", 20),
        )
        .map_err(|e| fail(e.to_string()))?;
    for (panel, (family, ops)) in root.split_evenly(grid).iter().zip(&families) {
        draw_panel(panel, family, ops, &rows, &axes).map_err(fail)?;
    }
    root.present().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// One family's panel: each op's two roads in its own colour.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    family: &str,
    ops: &[OpKind],
    rows: &[&CostRow],
    axes: &Axes,
) -> std::result::Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(family, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (axes.d.0..axes.d.1).log_scale(),
            (axes.flops.0..axes.flops.1).log_scale(),
        )
        .map_err(|e| text(&e))?;
    chart
        .configure_mesh()
        .x_desc("width D")
        .y_desc("flops (model)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| text(&e))?;
    for (&op, colour) in ops.iter().zip(COLOURS) {
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
            .map_err(|e| text(&e))?
            .label(op.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(points(true), 8, 5, colour.stroke_width(2)))
            .map_err(|e| text(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| text(&e))
}
