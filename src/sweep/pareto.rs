//! The Pareto front of a set of points, every objective minimised.
//!
//! A point is dominated when another point is no worse in every objective
//! and strictly better in at least one. The front is every candidate that
//! no other candidate dominates, so identical points are all on it or all
//! off it. A maximised objective (accuracy) is passed negated.
//!
//! Limitation: objectives are compared as `f64` with `total_cmp`, so the
//! caller must pass finite values (a NaN would sort above every number).

use std::cmp::Ordering;

/// Returns whether `a` dominates `b`: no worse in every objective and
/// strictly better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly_better = false;
    for (x, y) in a.iter().zip(b) {
        match x.total_cmp(y) {
            Ordering::Greater => return false,
            Ordering::Less => strictly_better = true,
            Ordering::Equal => {}
        }
    }
    strictly_better
}

/// Marks the non-dominated points among the candidates: `points[i]` is
/// `None` for a point that is not a candidate, which is never on the front
/// and never dominates another.
///
/// Sorting the candidates lexicographically puts every point after the
/// points that dominate it, so each point is checked only against the
/// front found so far: `O(n log n + n f)` for a front of `f` points.
/// Dominance is transitive, so a point dominated by a dropped point is
/// also dominated by a point on the front.
pub fn pareto_front(points: &[Option<Vec<f64>>]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&index| points[index].is_some())
        .collect();
    let objectives = |index: usize| points[index].as_deref().unwrap_or(&[]);
    order.sort_by(|&a, &b| {
        let (a, b) = (objectives(a), objectives(b));
        a.iter()
            .zip(b)
            .map(|(x, y)| x.total_cmp(y))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    });

    let mut front: Vec<usize> = Vec::new();
    for index in order {
        let candidate = objectives(index);
        if !front
            .iter()
            .any(|&member| dominates(objectives(member), candidate))
        {
            front.push(index);
        }
    }

    let mut marked = vec![false; points.len()];
    for index in front {
        marked[index] = true;
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Computes the front from the definition, pair by pair.
    fn naive_front(points: &[Option<Vec<f64>>]) -> Vec<bool> {
        points
            .iter()
            .map(|point| match point {
                None => false,
                Some(point) => !points.iter().flatten().any(|other| dominates(other, point)),
            })
            .collect()
    }

    fn some(values: &[f64]) -> Option<Vec<f64>> {
        Some(values.to_vec())
    }

    #[test]
    fn hand_made_points_with_ties() {
        // (latency, dsp, bram, -accuracy)
        let points = vec![
            some(&[100.0, 10.0, 4.0, -0.90]), // 0: front
            some(&[100.0, 10.0, 4.0, -0.90]), // 1: identical to 0, front
            some(&[100.0, 10.0, 4.0, -0.80]), // 2: worse accuracy only: dominated by 0
            some(&[90.0, 12.0, 4.0, -0.90]),  // 3: faster, more DSP: front
            some(&[90.0, 12.0, 5.0, -0.90]),  // 4: dominated by 3 (more BRAM)
            some(&[200.0, 5.0, 2.0, -0.50]),  // 5: cheapest: front
            None,                             // 6: invalid, dominates everything
            some(&[100.0, 10.0, 3.5, -0.90]), // 7: dominates 0 and 1
            some(&[200.0, 5.0, 2.0, -0.50]),  // 8: tie with 5: front
        ];
        let expected = vec![false, false, false, true, false, true, false, true, true];
        assert_eq!(naive_front(&points), expected);
        assert_eq!(pareto_front(&points), expected);
    }

    #[test]
    fn identical_points_are_all_on_the_front() {
        let points = vec![some(&[1.0, 1.0]), some(&[1.0, 1.0]), some(&[1.0, 1.0])];
        assert_eq!(pareto_front(&points), vec![true, true, true]);
    }

    #[test]
    fn dominates_needs_one_strict_improvement() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
        assert!(!dominates(&[1.0, 3.0], &[1.0, 3.0]));
        assert!(!dominates(&[0.0, 4.0], &[1.0, 3.0]));
    }

    fn point_sets() -> impl Strategy<Value = Vec<Option<Vec<f64>>>> {
        // Few distinct values make ties frequent.
        let point =
            prop::option::weighted(0.9, prop::collection::vec((0u8..4).prop_map(f64::from), 3));
        prop::collection::vec(point, 0..60)
    }

    proptest! {
        #[test]
        fn front_matches_definition(points in point_sets()) {
            let front = pareto_front(&points);
            prop_assert_eq!(&front, &naive_front(&points));
            for (index, point) in points.iter().enumerate() {
                let Some(point) = point else { continue };
                let dominated = points.iter().flatten().any(|other| dominates(other, point));
                // No front point is dominated and every other candidate is.
                prop_assert_eq!(front[index], !dominated);
            }
        }
    }
}
