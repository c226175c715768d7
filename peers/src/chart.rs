//! The SVG chart: throughput (msgs/s, log scale) by record size, both
//! clients, producing and consuming (no codec, consumers with `assign`).

use std::path::Path;

use kafka_sync::Compression;
use plotters::prelude::*;

use crate::report::summary;
use crate::{Client, Row, Workload};

/// A line of the chart: label, colour, dashed, points.
type Series = (String, RGBColor, bool, Vec<(f64, f64)>);

/// Draws the chart of `rows` into `path`.
pub fn draw(rows: &[Row], path: &Path) -> Result<(), String> {
    let series: Vec<Series> = [
        (
            Workload::Produce,
            Client::KafkaSync,
            RGBColor(0x1f, 0x77, 0xb4),
            false,
        ),
        (
            Workload::Produce,
            Client::Librdkafka,
            RGBColor(0xff, 0x7f, 0x0e),
            false,
        ),
        (
            Workload::Assign,
            Client::KafkaSync,
            RGBColor(0x1f, 0x77, 0xb4),
            true,
        ),
        (
            Workload::Assign,
            Client::Librdkafka,
            RGBColor(0xff, 0x7f, 0x0e),
            true,
        ),
    ]
    .into_iter()
    .map(|(workload, client, color, dashed)| {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| {
                r.workload == workload && r.client == client && r.codec == Compression::None
            })
            .map(|r| (r.size as f64, summary(r).msgs))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = format!(
            "{} {}",
            client.name(),
            if workload == Workload::Produce {
                "produce"
            } else {
                "consume"
            }
        );
        (label, color, dashed, points)
    })
    .collect();
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.3.iter().copied()).collect();
    if all.is_empty() {
        return Err("no uncompressed produce or assign rows to draw".into());
    }
    let (x_min, x_max) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y_min, y_max) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| format!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "kafka-sync vs librdkafka: throughput by record size (tansu, no codec)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min * 0.8..x_max * 1.25).log_scale(),
            (y_min * 0.5..y_max * 2.0).log_scale(),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("record value size, bytes")
        .y_desc("messages per second")
        .y_label_formatter(&|y| format!("{:.0}k", y / 1000.0))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(e)?;
    for (label, color, dashed, points) in series {
        let style = ShapeStyle::from(&color).stroke_width(if dashed { 2 } else { 3 });
        if dashed {
            chart
                .draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        } else {
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}
