//! Input footprints: which input pixels a block of output pixels reads
//! through its convolution window, for buffer sizes and DRAM traffic.
//!
//! Exact footprints leave out the padding and split at image boundaries.
//! The worst-case footprints that decide whether a tile fits ignore both,
//! so they bound every tile of that size from above. Limitation: the
//! footprint is a dense rectangle of rows and columns, so a strided window
//! that skips input rows or columns is charged for them.

use super::shape::MacShape;

impl MacShape {
    /// Input pixels read by `rows` whole output rows at the worst place:
    /// away from the padding, within one image. Every tile of that many
    /// rows reads at most this many.
    pub(crate) fn max_rows_footprint(&self, rows: u64) -> u64 {
        window_extent(rows, self.stride_rows, self.span_rows)
            .min(self.in_rows)
            .saturating_mul(self.in_cols)
    }

    /// Input pixels read by `cols` output columns of one row at the worst
    /// place.
    pub(crate) fn max_columns_footprint(&self, cols: u64) -> u64 {
        let rows = self.span_rows.min(self.in_rows);
        let cols = window_extent(cols, self.stride_cols, self.span_cols).min(self.in_cols);
        rows.saturating_mul(cols)
    }

    /// Input rows read by `count` output rows from stacked row `first`,
    /// padding excluded, image by image.
    pub(crate) fn input_rows(&self, first: u64, count: u64) -> u64 {
        let image_rows = self.image_rows.max(1);
        let end = first + count;
        let mut row = first;
        let mut total = 0u64;
        while row < end {
            let image_end = (row / image_rows + 1) * image_rows;
            let segment_end = end.min(image_end);
            let local_first = row % image_rows;
            let local_count = segment_end - row;
            total = total.saturating_add(input_span(
                local_first,
                local_count,
                self.stride_rows,
                self.span_rows,
                self.pad_rows,
                self.in_rows,
            ));
            row = segment_end;
        }
        total
    }

    /// Input columns read by `count` output columns from column `first`,
    /// padding excluded.
    pub(crate) fn input_cols(&self, first: u64, count: u64) -> u64 {
        input_span(
            first,
            count,
            self.stride_cols,
            self.span_cols,
            self.pad_cols,
            self.in_cols,
        )
    }
}

/// Input positions one axis of a window spans for `count` consecutive
/// outputs, padding included.
fn window_extent(count: u64, stride: u64, span: u64) -> u64 {
    (count.max(1) - 1)
        .saturating_mul(stride)
        .saturating_add(span)
}

/// Input positions, padding excluded, that `count` outputs from output
/// `first` read along one axis of `input` positions with `pad` positions of
/// padding before.
fn input_span(first: u64, count: u64, stride: u64, span: u64, pad: u64, input: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    let start = first.saturating_mul(stride);
    let end = start.saturating_add(window_extent(count, stride, span));
    let start = start.saturating_sub(pad).min(input);
    let end = end.saturating_sub(pad).min(input);
    end - start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::shape::MacKind;

    #[test]
    fn input_span_leaves_out_padding() {
        // 3-tap window, stride 1, one padding position before 8 inputs.
        assert_eq!(input_span(0, 4, 1, 3, 1, 8), 5);
        assert_eq!(input_span(4, 4, 1, 3, 1, 8), 5);
        assert_eq!(input_span(0, 8, 1, 3, 1, 8), 8);
        // Stride 2 with no padding: outputs 1 and 2 read inputs 2 to 6.
        assert_eq!(input_span(1, 2, 2, 3, 0, 9), 5);
        assert_eq!(input_span(3, 0, 2, 3, 0, 9), 0);
    }

    #[test]
    fn input_rows_split_at_image_boundaries() {
        // Two images of 8 output rows, each a 3-row SAME window over 8
        // input rows.
        let shape = MacShape {
            kind: MacKind::Conv,
            out_rows: 16,
            out_cols: 8,
            image_rows: 8,
            in_rows: 8,
            in_cols: 8,
            pad_rows: 1,
            pad_cols: 1,
            span_rows: 3,
            span_cols: 3,
            stride_rows: 1,
            stride_cols: 1,
            groups: 1,
            group_inputs: 4,
            group_outputs: 8,
            m: 128,
            k: 36,
            n: 8,
        };
        // Rows 6 to 9 are the last two of image 0 (inputs 5 to 7) and the
        // first two of image 1 (inputs 0 to 2).
        assert_eq!(shape.input_rows(6, 4), 3 + 3);
        assert_eq!(shape.input_rows(0, 16), 16);
    }
}
