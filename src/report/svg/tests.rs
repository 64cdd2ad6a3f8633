//! Unit tests of the SVG charts: the output parses as XML and the drawn
//! shapes sit where the data puts them.

use super::*;

fn parse(svg: &str) -> roxmltree::Document<'_> {
    match roxmltree::Document::parse(svg) {
        Ok(document) => document,
        Err(error) => panic!("invalid SVG: {error}\n{svg}"),
    }
}

fn elements<'a>(document: &'a roxmltree::Document, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    document
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .collect()
}

fn attribute(node: &roxmltree::Node, name: &str) -> f64 {
    let text = node.attribute(name).unwrap_or_default();
    text.parse()
        .unwrap_or_else(|_| panic!("attribute {name}={text:?} is not a number"))
}

fn texts(document: &roxmltree::Document) -> Vec<String> {
    elements(document, "text")
        .iter()
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

fn bars(values: &[f64]) -> BarChart {
    BarChart {
        title: "cycles per layer".into(),
        x_label: "layer".into(),
        y: Axis::new("cycles"),
        bars: values
            .iter()
            .enumerate()
            .map(|(i, v)| Bar {
                label: format!("{i} CONV_2D"),
                value: *v,
                color: Color::palette(0),
            })
            .collect(),
        show_values: false,
        legend: vec![],
        rules: vec![],
    }
}

/// Bar rectangles: those with a tooltip child.
fn bar_rects<'a>(document: &'a roxmltree::Document) -> Vec<roxmltree::Node<'a, 'a>> {
    elements(document, "rect")
        .into_iter()
        .filter(|n| n.children().any(|c| c.tag_name().name() == "title"))
        .collect()
}

#[test]
fn escape_all_five_characters() {
    assert_eq!(escape("a<b & c>'d\""), "a&lt;b &amp; c&gt;&apos;d&quot;");
    assert_eq!(escape("plain"), "plain");
}

#[test]
fn linear_ticks_round_steps() {
    let cases: &[(f64, f64, &[f64], f64)] = &[
        (0.0, 97.0, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0], 20.0),
        (0.0, 1.0, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 0.2),
        (-3.0, 7.0, &[-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0], 2.0),
        (12.0, 31.0, &[10.0, 15.0, 20.0, 25.0, 30.0, 35.0], 5.0),
        (0.0, 1_234_567.0, &[0.0, 500e3, 1e6, 1.5e6], 500e3),
    ];
    for (min, max, expected, expected_step) in cases {
        let (ticks, step) = linear_ticks(*min, *max, 6);
        assert_eq!(step, *expected_step, "step for {min}..{max}");
        assert_eq!(
            ticks.len(),
            expected.len(),
            "ticks for {min}..{max}: {ticks:?}"
        );
        for (tick, want) in ticks.iter().zip(expected.iter()) {
            assert!((tick - want).abs() < 1e-9, "{min}..{max}: {ticks:?}");
        }
    }
}

#[test]
fn linear_ticks_flat_range() {
    let (ticks, _) = linear_ticks(5.0, 5.0, 6);
    assert!(ticks[0] < 5.0, "{ticks:?}");
    assert!(ticks[ticks.len() - 1] > 5.0, "{ticks:?}");
    let (ticks, _) = linear_ticks(0.0, 0.0, 6);
    assert_eq!(ticks[0], 0.0);
    assert_eq!(ticks[ticks.len() - 1], 1.0);
}

#[test]
fn log_ticks_decades_and_fine() {
    assert_eq!(
        log_ticks(3.0, 4000.0),
        vec![1.0, 10.0, 100.0, 1000.0, 10000.0]
    );
    assert_eq!(
        log_ticks(20.0, 300.0),
        vec![10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
    );
    assert_eq!(log_ticks(100.0, 100.0), vec![100.0, 200.0, 500.0, 1000.0]);
}

#[test]
fn format_number_table() {
    let cases = [
        (0.0, 20.0, "0"),
        (-0.0, 0.2, "0"),
        (0.0, 500_000.0, "0"),
        (0.4, 0.2, "0.4"),
        (0.75, 0.05, "0.75"),
        (8000.0, 2000.0, "8000"),
        (15_000.0, 5000.0, "15k"),
        (1_500_000.0, 500_000.0, "1.5M"),
        (2_000_000.0, 1_000_000.0, "2M"),
        (3e9, 1e9, "3G"),
        (-20.0, 10.0, "-20"),
    ];
    for (value, step, expected) in cases {
        assert_eq!(
            format_number(value, step),
            expected,
            "value {value}, step {step}"
        );
    }
}

#[test]
fn viridis_ends_and_clamps() {
    assert_eq!(viridis(0.0), VIRIDIS[0]);
    assert_eq!(viridis(1.0), VIRIDIS[4]);
    assert_eq!(viridis(0.5), VIRIDIS[2]);
    assert_eq!(viridis(-3.0), VIRIDIS[0]);
    assert_eq!(viridis(7.0), VIRIDIS[4]);
    assert_eq!(viridis(f64::NAN), VIRIDIS[0]);
    assert_eq!(viridis(0.125), VIRIDIS[0].mix(VIRIDIS[1], 0.5));
}

#[test]
fn bar_heights_proportional_to_values() {
    let svg = bars(&[100.0, 50.0, 25.0]).to_svg().unwrap();
    let document = parse(&svg);
    let rects = bar_rects(&document);
    assert_eq!(rects.len(), 3);
    let heights: Vec<f64> = rects.iter().map(|r| attribute(r, "height")).collect();
    assert!((heights[0] / heights[1] - 2.0).abs() < 0.01, "{heights:?}");
    assert!((heights[0] / heights[2] - 4.0).abs() < 0.02, "{heights:?}");
    let bottoms: Vec<f64> = rects
        .iter()
        .map(|r| attribute(r, "y") + attribute(r, "height"))
        .collect();
    assert!(
        (bottoms[0] - bottoms[2]).abs() < 0.11,
        "bars share a baseline: {bottoms:?}"
    );
    let xs: Vec<f64> = rects.iter().map(|r| attribute(r, "x")).collect();
    assert!(xs[0] < xs[1], "bars left to right: {xs:?}");
    assert!(xs[1] < xs[2], "bars left to right: {xs:?}");
}

#[test]
fn bar_chart_title_labels_and_escaping() {
    let mut chart = bars(&[3.0, 4.0]);
    chart.title = "DSP <used> & free".into();
    chart.bars[1].label = "a<b".into();
    let svg = chart.to_svg().unwrap();
    let document = parse(&svg);
    let texts = texts(&document);
    assert!(
        texts.contains(&"DSP <used> & free".to_string()),
        "{texts:?}"
    );
    assert!(texts.contains(&"a<b".to_string()), "{texts:?}");
    assert!(texts.contains(&"0 CONV_2D".to_string()), "{texts:?}");
    assert!(texts.contains(&"layer".to_string()));
    assert!(texts.contains(&"cycles".to_string()));
}

#[test]
fn bar_chart_negative_values_hang_below_zero() {
    let svg = bars(&[4.0, -2.0]).to_svg().unwrap();
    let document = parse(&svg);
    let rects = bar_rects(&document);
    let top_positive = attribute(&rects[0], "y") + attribute(&rects[0], "height");
    let top_negative = attribute(&rects[1], "y");
    assert!(
        (top_positive - top_negative).abs() < 0.11,
        "both meet at zero"
    );
}

#[test]
fn bar_chart_rule_and_values() {
    let mut chart = bars(&[40.0, 120.0]);
    chart.rules.push(Rule {
        value: 100.0,
        label: "capacity".into(),
    });
    chart.show_values = true;
    let svg = chart.to_svg().unwrap();
    let document = parse(&svg);
    let texts = texts(&document);
    assert!(texts.contains(&"capacity".to_string()));
    assert!(texts.contains(&"120.0".to_string()), "{texts:?}");
    let dashed: Vec<_> = elements(&document, "line")
        .into_iter()
        .filter(|n| n.attribute("stroke-dasharray").is_some())
        .collect();
    assert_eq!(dashed.len(), 2, "the rule and its legend swatch");
    // The rule spans the frame at 100 on an axis from 0 to 140, and the
    // bars' common baseline is the frame's bottom.
    let rule = &dashed[0];
    let rule_y = attribute(rule, "y1");
    assert!(attribute(rule, "x2") - attribute(rule, "x1") > 300.0);
    let rects = bar_rects(&document);
    let baseline = attribute(&rects[0], "y") + attribute(&rects[0], "height");
    let top_120 = attribute(&rects[1], "y");
    let expected = baseline - (baseline - top_120) * 100.0 / 120.0;
    assert!(
        (rule_y - expected).abs() < 0.2,
        "rule at {rule_y}, expected {expected}"
    );
}

#[test]
fn bar_chart_many_bars_thins_labels() {
    let values: Vec<f64> = (0..120).map(f64::from).collect();
    let svg = bars(&values).to_svg().unwrap();
    let document = parse(&svg);
    let labels = texts(&document)
        .into_iter()
        .filter(|t| t.ends_with("CONV_2D"))
        .count();
    assert!(labels > 10, "{labels} labels drawn");
    assert!(labels < 120, "{labels} labels drawn");
    assert_eq!(bar_rects(&document).len(), 120);
}

#[test]
fn long_labels_are_shortened() {
    let mut chart = bars(&[1.0]);
    chart.bars[0].label = "x".repeat(60);
    let svg = chart.to_svg().unwrap();
    let texts = texts(&parse(&svg));
    let expected = format!("{}…", "x".repeat(MAX_LABEL_CHARS - 1));
    assert!(texts.contains(&expected), "{texts:?}");
}

#[test]
fn empty_bar_chart_renders() {
    let svg = bars(&[]).to_svg().unwrap();
    assert!(bar_rects(&parse(&svg)).is_empty());
}

#[test]
fn non_finite_value_is_an_error() {
    let error = bars(&[1.0, f64::NAN]).to_svg().unwrap_err();
    let message = error.to_string();
    assert!(message.contains("cycles per layer"), "{message}");
    assert!(message.contains("bar '1 CONV_2D'"), "{message}");
    assert!(message.contains("NaN"), "{message}");
}

fn accuracy_chart() -> LineChart {
    LineChart {
        title: "accuracy against accumulator width".into(),
        x: Axis::new("accumulator bits"),
        y: Axis::new("accuracy (%)").range(0.0, 100.0),
        series: vec![
            Series {
                name: "wrap".into(),
                color: Color::palette(0),
                points: vec![(12.0, 10.0), (16.0, 80.0), (20.0, 97.0)],
            },
            Series {
                name: "saturate".into(),
                color: Color::palette(1),
                points: vec![(12.0, 60.0), (16.0, 95.0), (20.0, 97.0)],
            },
        ],
        rules: vec![],
    }
}

#[test]
fn line_chart_points_map_to_axes() {
    let svg = accuracy_chart().to_svg().unwrap();
    let document = parse(&svg);
    let polylines = elements(&document, "polyline");
    assert_eq!(polylines.len(), 2);
    let circles = elements(&document, "circle");
    assert_eq!(circles.len(), 6);
    // The y range is fixed at 0..100, so 80 % sits 1/5 below the top of
    // the frame and 10 % at 9/10 of the way down.
    let y80 = attribute(&circles[1], "cy");
    let y10 = attribute(&circles[0], "cy");
    let height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    assert!(
        (y80 - (MARGIN_TOP + 0.2 * height)).abs() < 0.11,
        "y80 {y80}"
    );
    assert!(
        (y10 - (MARGIN_TOP + 0.9 * height)).abs() < 0.11,
        "y10 {y10}"
    );
    let x12 = attribute(&circles[0], "cx");
    let x16 = attribute(&circles[1], "cx");
    let x20 = attribute(&circles[2], "cx");
    assert!(((x16 - x12) - (x20 - x16)).abs() < 0.2, "even x spacing");
    let texts = texts(&document);
    for label in ["wrap", "saturate", "accumulator bits", "100", "0"] {
        assert!(
            texts.contains(&label.to_string()),
            "missing {label}: {texts:?}"
        );
    }
}

#[test]
fn log_axis_rejects_zero() {
    let mut chart = accuracy_chart();
    chart.x = Axis::new("bits").log10();
    chart.series[0].points[0].0 = 0.0;
    let error = chart.to_svg().unwrap_err();
    assert!(
        matches!(error, ChartError::NotPositive { axis: "x", value, .. } if value == 0.0),
        "{error}"
    );
}

#[test]
fn log_axis_places_decades_evenly() {
    let chart = LineChart {
        title: "log".into(),
        x: Axis::new("cycles").log10(),
        y: Axis::new("y"),
        series: vec![Series {
            name: "s".into(),
            color: Color::palette(0),
            points: vec![(1.0, 0.0), (10.0, 1.0), (100.0, 2.0)],
        }],
        rules: vec![],
    };
    let svg = chart.to_svg().unwrap();
    let document = parse(&svg);
    let circles = elements(&document, "circle");
    let xs: Vec<f64> = circles.iter().map(|c| attribute(c, "cx")).collect();
    assert!(((xs[1] - xs[0]) - (xs[2] - xs[1])).abs() < 0.2, "{xs:?}");
}

#[test]
fn empty_fixed_range_is_an_error() {
    let mut chart = accuracy_chart();
    chart.y = Axis::new("y").range(5.0, 5.0);
    assert!(matches!(
        chart.to_svg().unwrap_err(),
        ChartError::EmptyRange { .. }
    ));
}

fn scatter() -> ScatterPlot {
    ScatterPlot {
        title: "design space".into(),
        x: Axis::new("DSP"),
        y: Axis::new("cycles").log10(),
        color: ColorScale {
            label: "accuracy (%)".into(),
            min: None,
            max: None,
        },
        points: vec![
            ScatterPoint {
                x: 10.0,
                y: 1000.0,
                value: 90.0,
                label: Some("8x8 int8".into()),
            },
            ScatterPoint {
                x: 40.0,
                y: 200.0,
                value: 95.0,
                label: None,
            },
            ScatterPoint {
                x: 160.0,
                y: 50.0,
                value: 100.0,
                label: None,
            },
        ],
        overlays: vec![Series {
            name: "Pareto front".into(),
            color: Color::palette(2),
            points: vec![(10.0, 1000.0), (160.0, 50.0)],
        }],
    }
}

#[test]
fn scatter_colours_follow_values() {
    let svg = scatter().to_svg().unwrap();
    let document = parse(&svg);
    let circles = elements(&document, "circle");
    assert_eq!(circles.len(), 3);
    let fills: Vec<&str> = circles.iter().filter_map(|c| c.attribute("fill")).collect();
    assert_eq!(fills[0], VIRIDIS[0].hex(), "lowest value, darkest colour");
    assert_eq!(
        fills[2],
        VIRIDIS[4].hex(),
        "highest value, brightest colour"
    );
    assert_eq!(fills[1], viridis(0.5).hex());
    assert_eq!(elements(&document, "stop").len(), VIRIDIS.len());
    assert_eq!(elements(&document, "polyline").len(), 1);
    let texts = texts(&document);
    for label in [
        "accuracy (%)",
        "Pareto front",
        "design space",
        "DSP",
        "cycles",
    ] {
        assert!(
            texts.contains(&label.to_string()),
            "missing {label}: {texts:?}"
        );
    }
    let tooltip = circles[0]
        .children()
        .find(|c| c.tag_name().name() == "title");
    assert_eq!(tooltip.and_then(|t| t.text()), Some("8x8 int8"));
}

#[test]
fn scatter_fixed_colour_range_clamps() {
    let mut plot = scatter();
    plot.color.min = Some(0.0);
    plot.color.max = Some(200.0);
    let svg = plot.to_svg().unwrap();
    let document = parse(&svg);
    let circles = elements(&document, "circle");
    assert_eq!(
        circles[2].attribute("fill"),
        Some(viridis(0.5).hex().as_str())
    );
}

#[test]
fn scatter_rejects_non_finite_colour_value() {
    let mut plot = scatter();
    plot.points[1].value = f64::INFINITY;
    let message = plot.to_svg().unwrap_err().to_string();
    assert!(message.contains("colour value"), "{message}");
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(scatter().to_svg().unwrap(), scatter().to_svg().unwrap());
    assert_eq!(
        accuracy_chart().to_svg().unwrap(),
        accuracy_chart().to_svg().unwrap()
    );
}

#[test]
fn element_ids_differ_between_charts() {
    let first = scatter().to_svg().unwrap();
    let mut other = scatter();
    other.title = "another space".into();
    let second = other.to_svg().unwrap();
    let ids = |svg: &str| -> Vec<String> {
        let document = parse(svg);
        document
            .descendants()
            .filter_map(|n| n.attribute("id").map(str::to_string))
            .collect()
    };
    let first_ids = ids(&first);
    let second_ids = ids(&second);
    assert_eq!(first_ids.len(), 2, "{first_ids:?}");
    for id in &first_ids {
        assert!(!second_ids.contains(id), "{id} in both charts");
    }
}

/// A fixed range of 8 to 21 keeps only 10, 15 and 20 of the ticks at a
/// step of 5, so the axis takes a step of 2 and shows 8 to 20.
#[test]
fn fixed_range_with_few_ticks_gets_finer_step() {
    let axis = Axis::new("bits").range(8.0, 21.0);
    let resolved = canvas::ResolvedAxis::new("chart", "x", &axis, &[8.0, 21.0], false).unwrap();
    assert_eq!(resolved.ticks, [8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0]);
    assert_eq!(resolved.low, 8.0);
    assert_eq!(resolved.high, 21.0);
}
