//! Renderers of the three chart types onto a [`Canvas`].
//!
//! Limitation: each chart is a standalone document of fixed size
//! ([`WIDTH`] x [`HEIGHT`]).

use super::canvas::*;
use super::*;

impl BarChart {
    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let chart = self.title.as_str();
        let mut values = Vec::with_capacity(self.bars.len() + self.rules.len());
        for bar in &self.bars {
            let item = format!("bar '{}'", bar.label);
            check_finite(chart, &item, bar.value)?;
            check_log(chart, &self.y, "y", &item, bar.value)?;
            values.push(bar.value);
        }
        for rule in &self.rules {
            let item = format!("rule '{}'", rule.label);
            check_finite(chart, &item, rule.value)?;
            check_log(chart, &self.y, "y", &item, rule.value)?;
            values.push(rule.value);
        }
        let y = ResolvedAxis::new(chart, "y", &self.y, &values, true)?;

        let labels: Vec<String> = self.bars.iter().map(|bar| shorten(&bar.label)).collect();
        let legend_space = if self.legend.is_empty() {
            0.0
        } else {
            legend_width(&self.legend) + 12.0
        };
        let width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT - legend_space;
        let slot = width / self.bars.len().max(1) as f64;
        let longest = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
        let rotate = longest > slot - 4.0;
        let label_every = if rotate {
            (14.0 / slot).ceil().max(1.0) as usize
        } else {
            1
        };
        let label_depth = if rotate { longest * 0.72 + 14.0 } else { 18.0 };
        let bottom_margin = (label_depth + 30.0).clamp(MARGIN_BOTTOM, HEIGHT * 0.45);
        let frame = Frame {
            left: MARGIN_LEFT,
            top: MARGIN_TOP,
            width,
            height: HEIGHT - MARGIN_TOP - bottom_margin,
            x: None,
            y,
        };

        let mut canvas = Canvas::new(&self.title);
        canvas.y_axis(&frame, &self.y.label);
        let base = match frame.y.scale {
            Scale::Linear => 0.0_f64.clamp(frame.y.low, frame.y.high),
            Scale::Log10 => frame.y.low,
        };
        canvas.open_clip(&frame);
        for (i, bar) in self.bars.iter().enumerate() {
            let x = frame.left + slot * (i as f64 + 0.15);
            let top = frame.y_position(bar.value.clamp(frame.y.low, frame.y.high));
            let base_y = frame.y_position(base);
            let tooltip = format!("{}: {}", bar.label, format_number(bar.value, frame.y.step));
            canvas.rect(
                x,
                top.min(base_y),
                slot * 0.7,
                (top - base_y).abs(),
                &bar.color.hex(),
                Some(&tooltip),
            );
        }
        canvas.close_group();
        for (i, bar) in self.bars.iter().enumerate() {
            let center = frame.left + slot * (i as f64 + 0.5);
            if self.show_values {
                let top = frame.y_position(bar.value.clamp(frame.y.low, frame.y.high));
                let step = if frame.y.step > 0.0 {
                    frame.y.step / 10.0
                } else {
                    bar.value
                };
                canvas.text(
                    center,
                    top - 4.0,
                    &format_number(bar.value, step),
                    "middle",
                    "",
                );
            }
            if i % label_every != 0 {
                continue;
            }
            let y = frame.bottom() + 14.0;
            if rotate {
                canvas.text(
                    center + 3.0,
                    y,
                    &labels[i],
                    "end",
                    &format!("transform=\"rotate(-45 {:.1} {y:.1})\"", center + 3.0),
                );
            } else {
                canvas.text(center, y + 2.0, &labels[i], "middle", "");
            }
        }
        canvas.rules(&frame, &self.rules);
        canvas.x_axis(&frame, &self.x_label);
        canvas.legend(frame.right() + 16.0, frame.top + 8.0, &self.legend);
        Ok(canvas.finish())
    }
}

impl LineChart {
    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let chart = self.title.as_str();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for series in &self.series {
            for (x, y) in &series.points {
                let item = format!("point ({x}, {y}) of '{}'", series.name);
                check_finite(chart, &item, *x)?;
                check_finite(chart, &item, *y)?;
                check_log(chart, &self.x, "x", &item, *x)?;
                check_log(chart, &self.y, "y", &item, *y)?;
                xs.push(*x);
                ys.push(*y);
            }
        }
        for rule in &self.rules {
            let item = format!("rule '{}'", rule.label);
            check_finite(chart, &item, rule.value)?;
            check_log(chart, &self.y, "y", &item, rule.value)?;
            ys.push(rule.value);
        }
        let legend = series_legend(&self.series);
        let frame = numeric_frame(chart, &self.x, &self.y, &xs, &ys, legend_width(&legend))?;

        let mut canvas = Canvas::new(&self.title);
        canvas.y_axis(&frame, &self.y.label);
        canvas.x_axis(&frame, &self.x.label);
        canvas.open_clip(&frame);
        for series in &self.series {
            draw_series(&mut canvas, &frame, series, true);
        }
        canvas.close_group();
        canvas.rules(&frame, &self.rules);
        canvas.legend(frame.right() + 16.0, frame.top + 8.0, &legend);
        Ok(canvas.finish())
    }
}

impl ScatterPlot {
    /// Renders the plot as a standalone SVG document.
    pub fn to_svg(&self) -> Result<String, ChartError> {
        let chart = self.title.as_str();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut values = Vec::new();
        for point in &self.points {
            let item = format!("point ({}, {})", point.x, point.y);
            check_finite(chart, &item, point.x)?;
            check_finite(chart, &item, point.y)?;
            check_finite(chart, &format!("colour value of {item}"), point.value)?;
            check_log(chart, &self.x, "x", &item, point.x)?;
            check_log(chart, &self.y, "y", &item, point.y)?;
            xs.push(point.x);
            ys.push(point.y);
            values.push(point.value);
        }
        for series in &self.overlays {
            for (x, y) in &series.points {
                let item = format!("point ({x}, {y}) of '{}'", series.name);
                check_finite(chart, &item, *x)?;
                check_finite(chart, &item, *y)?;
                check_log(chart, &self.x, "x", &item, *x)?;
                check_log(chart, &self.y, "y", &item, *y)?;
                xs.push(*x);
                ys.push(*y);
            }
        }
        let color_axis = Axis {
            label: self.color.label.clone(),
            scale: Scale::Linear,
            min: self.color.min,
            max: self.color.max,
        };
        let colors = ResolvedAxis::new(chart, "colour", &color_axis, &values, false)?;
        let legend = series_legend(&self.overlays);
        let side = legend_width(&legend).max(COLOR_BAR_SPACE);
        let frame = numeric_frame(chart, &self.x, &self.y, &xs, &ys, side)?;

        let mut canvas = Canvas::new(&self.title);
        canvas.y_axis(&frame, &self.y.label);
        canvas.x_axis(&frame, &self.x.label);
        canvas.open_clip(&frame);
        for series in &self.overlays {
            draw_series(&mut canvas, &frame, series, false);
        }
        for point in &self.points {
            let fill = viridis(colors.fraction(point.value)).hex();
            canvas.circle(
                frame.x_position(point.x),
                frame.y_position(point.y),
                4.5,
                &fill,
                point.label.as_deref(),
            );
        }
        canvas.close_group();
        color_bar(&mut canvas, &frame, &colors, &self.color.label);
        let legend_top = frame.top + COLOR_BAR_HEIGHT + 60.0;
        canvas.legend(frame.right() + 16.0, legend_top, &legend);
        Ok(canvas.finish())
    }
}
