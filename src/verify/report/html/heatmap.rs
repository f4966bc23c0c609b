//! A gradient as a picture: three heat maps side by side, the reference's values, the values
//! under test, and their difference (got − expected), as inline SVG.
//!
//! A gradient of shape (r, c) is drawn as r rows of c cells; a vector as one row, a scalar as
//! one cell, and a higher-dimensional array as (product of all but its last axis) rows. The
//! colour is diverging: white at 0, red for positive and blue for negative values, at full
//! strength at the panel's largest magnitude. Expected and got share one scale (so that a value
//! twice too large is twice as dark); the difference has its own, so that a small error still
//! shows. A non-finite value is grey. Each cell carries its index and values as a tooltip.

use super::escape;
use crate::verify::report::CaseValues;

/// Width of one panel's grid, in pixels, before the cells are clamped to [`MIN_CELL`, `MAX_CELL`].
const PANEL_WIDTH: f64 = 240.0;
const MIN_CELL: f64 = 4.0;
const MAX_CELL: f64 = 36.0;
/// Room for a panel's title above it and its scale below.
const TITLE: f64 = 18.0;
const SCALE: f64 = 16.0;
const GAP: f64 = 24.0;
/// The narrowest a panel is laid out, so that its title and scale fit above and below it.
const MIN_SLOT: f64 = 110.0;

/// The three panels of `values` (the gradient `label`, e.g. `dL/dW`) as one `<svg>`.
pub fn heat_map(label: &str, values: &CaseValues) -> String {
    let (rows, cols) = grid(&values.shape);
    let cell = (PANEL_WIDTH / cols as f64).clamp(MIN_CELL, MAX_CELL);
    let (width, height) = (cols as f64 * cell, rows as f64 * cell);
    let difference: Vec<f64> = (values.actual.iter().zip(&values.expected))
        .map(|(a, e)| a - e)
        .collect();
    let shared = largest_magnitude(values.expected.iter().chain(&values.actual));
    let panels = [
        ("expected", &values.expected, shared),
        ("got", &values.actual, shared),
        ("got − expected", &difference, largest_magnitude(&difference)),
    ];
    let slot = width.max(MIN_SLOT);
    let total_width = 3.0 * slot + 2.0 * GAP;
    let total_height = TITLE + height + SCALE;
    let mut svg = format!(
        r#"<svg class="heatmap" width="{total_width}" height="{total_height}" viewBox="0 0 {total_width} {total_height}" role="img" aria-label="{label}: expected, got and their difference">"#,
        label = escape(label),
    );
    for (i, (title, panel, scale)) in panels.into_iter().enumerate() {
        let x0 = i as f64 * (slot + GAP);
        svg.push_str(&format!(
            r#"<text x="{x0}" y="13" class="panel-title">{}</text>"#,
            escape(title)
        ));
        for (k, &v) in panel.iter().enumerate() {
            let (r, c) = (k / cols, k % cols);
            svg.push_str(&format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{cell:.1}" height="{cell:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                x0 + c as f64 * cell,
                TITLE + r as f64 * cell,
                colour(v, scale),
                escape(label),
                index(&values.shape, k),
                describe(title, v, values.expected[k], values.actual[k]),
            ));
        }
        svg.push_str(&format!(
            r#"<text x="{x0}" y="{:.1}" class="panel-scale">±{}</text>"#,
            TITLE + height + 12.0,
            number(scale)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Rows and columns of the grid a shape is drawn as.
fn grid(shape: &[usize]) -> (usize, usize) {
    match shape.split_last() {
        None => (1, 1),
        Some((&last, rest)) => (rest.iter().product::<usize>().max(1), last.max(1)),
    }
}

/// The largest finite magnitude, or 1 when there is none (all zero or non-finite).
fn largest_magnitude<'a>(values: impl IntoIterator<Item = &'a f64>) -> f64 {
    let largest = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    if largest > 0.0 { largest } else { 1.0 }
}

/// White at 0, red towards +scale, blue towards −scale; grey for a non-finite value.
fn colour(value: f64, scale: f64) -> String {
    if !value.is_finite() {
        return "#9e9e9e".to_owned();
    }
    let t = (value / scale).clamp(-1.0, 1.0);
    let fade = (255.0 * (1.0 - t.abs())).round() as u8;
    if t >= 0.0 {
        format!("rgb(255,{fade},{fade})")
    } else {
        format!("rgb({fade},{fade},255)")
    }
}

/// The index of the `k`-th element (row-major) of `shape`, as `[i, j]`.
fn index(shape: &[usize], mut k: usize) -> String {
    let mut index = vec![0; shape.len()];
    for (axis, &len) in shape.iter().enumerate().rev() {
        index[axis] = k % len.max(1);
        k /= len.max(1);
    }
    let parts: Vec<String> = index.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// A cell's tooltip: its panel's value, then both values.
fn describe(panel: &str, value: f64, expected: f64, actual: f64) -> String {
    format!(
        "{panel} {} (expected {}, got {})",
        number(value),
        number(expected),
        number(actual)
    )
}

/// A number as reports print it: six significant digits, and 0 for negative zero.
fn number(value: f64) -> String {
    if value == 0.0 {
        "0".to_owned()
    } else {
        format!("{value:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(shape: &[usize], expected: &[f64], actual: &[f64]) -> CaseValues {
        CaseValues {
            shape: shape.to_vec(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        }
    }

    #[test]
    fn a_matrix_is_rows_of_cells_in_three_panels() {
        let values = case(
            &[2, 3],
            &[1.0, -1.0, 0.0, 2.0, 0.5, -2.0],
            &[1.0, -1.0, 0.0, 2.0, 0.5, 2.0],
        );
        let svg = heat_map("dL/dW", &values);
        assert_eq!(svg.matches("<rect").count(), 3 * 6, "{svg}");
        assert!(
            svg.contains("dL/dW [1, 2]: got 2.000000 (expected -2.000000, got 2.000000)"),
            "{svg}"
        );
        // Expected and got share the scale ±2; the difference's is its own, ±4.
        assert!(
            svg.contains(">±2.000000<") && svg.contains(">±4.000000<"),
            "{svg}"
        );
        // Full red: the 2 of expected and got at [1, 0], got's wrong 2 at [1, 2], and the
        // difference's 4 there, the difference's only coloured cell.
        assert_eq!(svg.matches("rgb(255,0,0)").count(), 4, "{svg}");
        assert_eq!(svg.matches("rgb(0,0,255)").count(), 1, "expected's -2: {svg}");
    }

    #[test]
    fn shapes_become_grids_and_colours_diverge_from_white() {
        assert_eq!(grid(&[]), (1, 1));
        assert_eq!(grid(&[5]), (1, 5));
        assert_eq!(grid(&[2, 3, 4]), (6, 4));
        assert_eq!(index(&[2, 3, 4], 23), "[1, 2, 3]");
        assert_eq!(colour(0.0, 1.0), "rgb(255,255,255)");
        assert_eq!(colour(-0.5, 1.0), "rgb(128,128,255)");
        assert_eq!(colour(f64::NAN, 1.0), "#9e9e9e");
        assert_eq!(number(-0.0), "0");
        assert_eq!(largest_magnitude(&[0.0, f64::INFINITY]), 1.0);
    }
}
