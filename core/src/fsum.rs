//! Exact sums of floating-point numbers (Shewchuk's algorithm, as
//! Python's `math.fsum`): a sum is kept as non-overlapping partials whose
//! total is the exact sum, and read as that total correctly rounded. So a
//! sum does not depend on the order its values were added in, sums of
//! sums (a year from its months, a range from its periods and edge days)
//! equal the sum of all values, and a day's values can be taken out again
//! exactly (a late batch's update of a period's rollup).

/// An exact sum of finite `f64` values: 0.1, 0.2 and 0.3 sum to 0.6
/// (plain addition gives 0.6000000000000001; the unit tests show it).
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactSum {
    /// Non-overlapping, in increasing magnitude.
    partials: Vec<f64>,
    /// What overflowed the finite range (`±inf`, or NaN for both signs):
    /// only sums beyond about 1.8e308 have one.
    overflow: f64,
}

impl ExactSum {
    /// Adds a value (a non-finite one, or one the sum overflows with,
    /// goes to the overflow).
    pub(crate) fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.overflow += value;
            return;
        }
        // Only values near the end of the range can overflow a partial:
        // then the partials are kept to restore.
        const NEAR: f64 = 1e300;
        if value.abs() > NEAR || self.partials.last().is_some_and(|p| p.abs() > NEAR) {
            let before = self.partials.clone();
            if !self.add_finite(value) {
                self.partials = before;
                self.overflow += value.signum() * f64::INFINITY;
            }
            return;
        }
        self.add_finite(value);
    }

    /// Adds a finite value to the partials; `false` (the partials then
    /// spoilt) if a partial overflowed.
    fn add_finite(&mut self, value: f64) -> bool {
        let mut x = value;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                return false;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
        true
    }

    /// Adds another sum.
    pub(crate) fn add_sum(&mut self, other: &ExactSum) {
        for p in &other.partials {
            self.add(*p);
        }
        self.overflow += other.overflow;
    }

    /// Takes another sum out (exact when neither overflowed).
    pub(crate) fn sub_sum(&mut self, other: &ExactSum) {
        for p in &other.partials {
            self.add(-p);
        }
        self.overflow -= other.overflow;
    }

    /// The exact sum, correctly rounded (half to even); `0.0` for none.
    pub(crate) fn value(&self) -> f64 {
        if self.overflow != 0.0 || self.overflow.is_nan() {
            return self.overflow;
        }
        let p = &self.partials;
        let Some(&top) = p.last() else {
            return 0.0;
        };
        let mut n = p.len() - 1;
        let (mut hi, mut lo) = (top, 0.0);
        while n > 0 {
            n -= 1;
            let (x, y) = (hi, p[n]);
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Half-even rounding across several partials.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        // No negative zero: an empty or cancelled sum is 0.
        hi + 0.0
    }

    /// The partials and the overflow, to store.
    pub(crate) fn parts(&self) -> (&[f64], f64) {
        (&self.partials, self.overflow)
    }

    /// A sum from stored parts; `None` unless they are what [`ExactSum`]
    /// keeps (finite, non-overlapping, in increasing magnitude).
    pub(crate) fn from_parts(partials: Vec<f64>, overflow: f64) -> Option<ExactSum> {
        let finite = partials.iter().all(|p| p.is_finite());
        let ordered = partials.windows(2).all(|w| w[0].abs() < w[1].abs());
        let overflow_ok = overflow == 0.0 || !overflow.is_finite();
        (finite && ordered && overflow_ok).then_some(ExactSum { partials, overflow })
    }
}

/// Two sums are equal when their exact values are, whatever partials
/// hold them (a sum updated in place and one built afresh).
impl PartialEq for ExactSum {
    fn eq(&self, other: &ExactSum) -> bool {
        if self.overflow.to_bits() != other.overflow.to_bits() {
            return false;
        }
        let mut difference = self.clone();
        difference.sub_sum(other);
        difference.overflow = 0.0;
        // A non-zero exact sum of doubles rounds to a non-zero double.
        difference.value() == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sum(values: &[f64]) -> f64 {
        let mut s = ExactSum::default();
        for v in values {
            s.add(*v);
        }
        s.value()
    }

    #[test]
    fn sums_are_exact_and_rounded_once() {
        assert_eq!(sum(&[0.1, 0.2, 0.3]), 0.6);
        assert_eq!(sum(&[1e100, 1.0, -1e100, 1e-100]), 1.0);
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[-0.0]).to_bits(), 0.0f64.to_bits());
        assert_eq!(sum(&[1.0, 1e-16, 1e-16]), 1.0000000000000002);
        assert_eq!(sum(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert!(ExactSum::from_parts(vec![1.0, 0.5], 0.0).is_none());
        assert!(ExactSum::from_parts(vec![f64::NAN], 0.0).is_none());
        assert!(ExactSum::from_parts(vec![0.5, 1.0], 0.0).is_some());
    }

    proptest! {
        /// Any order, any grouping into sums of sums, and taking a part
        /// out again give the same value; with integers it is their sum.
        #[test]
        fn order_and_grouping_do_not_matter(
            values in prop::collection::vec(-1e12f64..1e12, 0..40),
            ints in prop::collection::vec(-1_000_000i64..1_000_000, 0..40),
            cut in 0usize..40,
        ) {
            let whole = sum(&values);
            let mut reversed = values.clone();
            reversed.reverse();
            prop_assert_eq!(sum(&reversed).to_bits(), whole.to_bits());
            let cut = cut.min(values.len());
            let (mut a, mut b) = (ExactSum::default(), ExactSum::default());
            values[..cut].iter().for_each(|v| a.add(*v));
            values[cut..].iter().for_each(|v| b.add(*v));
            let mut both = a.clone();
            both.add_sum(&b);
            prop_assert_eq!(both.value().to_bits(), whole.to_bits());
            both.sub_sum(&a);
            prop_assert_eq!(both.value().to_bits(), b.value().to_bits());
            let (partials, overflow) = both.parts();
            let back = ExactSum::from_parts(partials.to_vec(), overflow).unwrap();
            prop_assert_eq!(back.value().to_bits(), b.value().to_bits());
            let floats: Vec<f64> = ints.iter().map(|i| *i as f64).collect();
            prop_assert_eq!(sum(&floats), ints.iter().sum::<i64>() as f64);
        }
    }
}
