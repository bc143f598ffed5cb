//! The agent simulator's calculator: arithmetic on decimal numbers with `+ - * / %`,
//! powers (`^` or `**`), parentheses and unary signs, with Python's precedence.
//! It refuses (with a message) anything else, division by zero, non-finite results
//! and expressions long enough to recurse deeply, so model input cannot crash it.

/// Integers without a fraction, others with up to 10 decimals, trailing zeros cut.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.10}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Evaluates an arithmetic expression (`+ - * / % ^`, parentheses, unary minus).
pub fn eval(expr: &str) -> Result<f64, String> {
    let tokens: Vec<char> = expr.chars().filter(|c| *c != ',').collect();
    // Bounds the parser's recursion, whatever the model sends.
    if tokens.len() > 500 {
        return Err("expression longer than 500 characters".to_string());
    }
    let mut p = Parser { t: &tokens, i: 0, depth: 0 };
    let v = p.sum()?;
    if p.peek().is_some() {
        return Err(format!("unexpected `{}` in `{expr}`", tokens[p.i]));
    }
    if !v.is_finite() {
        return Err(format!("`{expr}` has no finite value"));
    }
    Ok(v)
}

struct Parser<'a> {
    t: &'a [char],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    /// The next character that is not white space.
    fn peek(&mut self) -> Option<char> {
        while self.t.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
        self.t.get(self.i).copied()
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        while let Some(op @ ('*' | '/' | '%' | 'x' | '×' | '÷')) = self.peek() {
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                '/' | '÷' if r == 0.0 => return Err("division by zero".to_string()),
                '%' if r == 0.0 => return Err("modulo by zero".to_string()),
                '/' | '÷' => v / r,
                '%' => v % r,
                _ => v * r,
            };
        }
        Ok(v)
    }

    /// Unary minus binds looser than `^`, as in Python: `-2^2` is -4.
    fn unary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('-') => {
                self.i += 1;
                Ok(-self.unary()?)
            }
            Some('+') => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        if self.peek() == Some('^')
            || (self.peek() == Some('*') && self.t.get(self.i + 1) == Some(&'*'))
        {
            self.i += if self.peek() == Some('^') { 1 } else { 2 };
            let exp = self.unary()?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some('(') => {
                self.depth += 1;
                if self.depth > 64 {
                    return Err("expression nested too deeply".to_string());
                }
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(')') {
                    return Err("missing `)`".to_string());
                }
                self.i += 1;
                self.depth -= 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.i;
                while self.t.get(self.i).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    self.i += 1;
                }
                let s: String = self.t[start..self.i].iter().collect();
                s.parse().map_err(|_| format!("bad number `{s}`"))
            }
            Some(c) => Err(format!("unexpected `{c}`")),
            None => Err("expression ends too early".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculator_evaluates_and_refuses_junk() {
        assert_eq!(eval("2 * (3 + 4) - 10 / 4").unwrap(), 11.5);
        assert_eq!(eval("-2^2").unwrap(), -4.0);
        assert_eq!(eval("2**3**2").unwrap(), 512.0);
        assert_eq!(eval("1,250 * 3").unwrap(), 3750.0);
        assert_eq!(eval("17 % 5").unwrap(), 2.0);
        assert_eq!(format_number(eval("10/4").unwrap()), "2.5");
        assert_eq!(format_number(eval("1/3").unwrap()), "0.3333333333");
        for bad in
            ["", "2 +", "(1", "1/0", "abc", "2 3", &"(".repeat(100), "9^9^9", &"-".repeat(100_000)]
        {
            assert!(eval(bad).is_err(), "{bad}");
        }
    }
}
