//! A share of traffic from 0 to 100 percent, in steps of 0.01 (basis points).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A share of traffic: 0 to 100 percent at a resolution of 0.01, stored exactly as basis
/// points (hundredths of a percent, 0 to 10,000), so that `12.34` never becomes `12.339999`.
///
/// ```
/// use hivetrace_routing::Percentage;
///
/// let p: Percentage = "12.5".parse()?;
/// assert_eq!(p.basis_points(), 1250);
/// assert_eq!(p.to_string(), "12.50%");
/// assert_eq!(Percentage::from_basis_points(500)?, Percentage::new(5.0)?);
/// assert!("100.01".parse::<Percentage>().is_err());
/// assert!("1.005".parse::<Percentage>().is_err()); // finer than 0.01
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percentage(u16);

/// Basis points in 100 percent.
pub const BASIS_POINTS: u16 = 10_000;

impl Percentage {
    /// No traffic.
    pub const ZERO: Percentage = Percentage(0);
    /// All traffic.
    pub const HUNDRED: Percentage = Percentage(BASIS_POINTS);

    /// From a percentage such as `12.5`; rounded to the nearest 0.01. Fails outside 0 to 100
    /// and for NaN.
    pub fn new(percent: f64) -> Result<Percentage> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(Error::invalid(
                "percentage",
                percent.to_string(),
                "expected a number from 0 to 100",
            ));
        }
        // In range, so the rounded value fits in u16.
        Ok(Percentage((percent * 100.0).round() as u16))
    }

    /// From basis points (hundredths of a percent), 0 to 10,000.
    pub fn from_basis_points(basis_points: u16) -> Result<Percentage> {
        if basis_points > BASIS_POINTS {
            return Err(Error::invalid(
                "percentage",
                format!("{basis_points} basis points"),
                "expected 0 to 10000 basis points",
            ));
        }
        Ok(Percentage(basis_points))
    }

    /// Hundredths of a percent: 0 to 10,000.
    pub fn basis_points(self) -> u16 {
        self.0
    }

    /// The percentage as a float (`12.5` for 12.5 %).
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// Parses a percentage read from `setting` (an environment variable, a config key), so
    /// that the error names it.
    pub fn parse_setting(setting: &str, text: &str) -> Result<Percentage> {
        parse(text).map_err(|reason| Error::invalid(setting, text, reason))
    }
}

/// Exact decimal parsing: an optional `%`, digits, at most two decimals.
fn parse(text: &str) -> std::result::Result<Percentage, &'static str> {
    const EXPECTED: &str =
        "expected a percentage from 0 to 100 with at most two decimals, such as 5, 12.5 or 0.25";
    let t = text.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim_end();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(EXPECTED);
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED);
    }
    if frac.len() > 2 {
        return Err("the resolution is 0.01: at most two decimals");
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 3 {
        return Err("expected a number from 0 to 100");
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| EXPECTED)?
    };
    let mut hundredths: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let digit = u32::from(b - b'0');
        hundredths += if i == 0 { digit * 10 } else { digit };
    }
    let bp = whole * 100 + hundredths;
    if bp > u32::from(BASIS_POINTS) {
        return Err("expected a number from 0 to 100");
    }
    Ok(Percentage(bp as u16))
}

impl FromStr for Percentage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Percentage> {
        Percentage::parse_setting("percentage", s)
    }
}

impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        let bp = |s: &str| s.parse::<Percentage>().map(Percentage::basis_points);
        assert_eq!(bp("0").unwrap(), 0);
        assert_eq!(bp("100").unwrap(), 10_000);
        assert_eq!(bp("100.00").unwrap(), 10_000);
        assert_eq!(bp("12.34").unwrap(), 1234);
        assert_eq!(bp("12.3").unwrap(), 1230);
        assert_eq!(bp(".5").unwrap(), 50);
        assert_eq!(bp("5.").unwrap(), 500);
        assert_eq!(bp(" 7.25 % ").unwrap(), 725);
        assert_eq!(bp("007").unwrap(), 700);
    }

    #[test]
    fn rejects_bad_text_with_a_reason() {
        for bad in [
            "", ".", "-1", "100.01", "1000", "abc", "1.005", "1e2", "5%%", "+5", "NaN",
        ] {
            let err = bad.parse::<Percentage>().expect_err(bad).to_string();
            assert!(err.contains("percentage"), "{bad}: {err}");
        }
        let err = Percentage::parse_setting("CANARY_PERCENTAGE", "1.005").unwrap_err();
        assert!(err.to_string().contains("CANARY_PERCENTAGE"));
        assert!(err.to_string().contains("0.01"));
    }

    #[test]
    fn floats_round_to_basis_points() {
        assert_eq!(Percentage::new(12.345).unwrap().basis_points(), 1235);
        assert_eq!(Percentage::new(100.0).unwrap(), Percentage::HUNDRED);
        assert!(Percentage::new(f64::NAN).is_err());
        assert!(Percentage::new(-0.1).is_err());
        assert!(Percentage::from_basis_points(10_001).is_err());
        assert_eq!(
            Percentage::from_basis_points(1).unwrap().to_string(),
            "0.01%"
        );
        assert_eq!(Percentage::from_basis_points(1).unwrap().as_f64(), 0.01);
    }
}
