//! Arithmetic expressions over a model's parameters, so every dimension in a model file can be a
//! number or a formula like `"shaft_length + head_height / 2"`. Owns parsing (with a message that
//! points at the bad character) and evaluation; it does not know where parameter values come from.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Call(Func, Box<Expr>),
    /// `pick(k, a, b, ...)`: the value at index round(k), clamped to the list (a discrete choice
    /// per instance, e.g. a colour channel from a parameter `k: {int: [0, 2]}`).
    Pick(Box<Expr>, Vec<Expr>),
}

/// Binary operators, in the usual precedence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// One-argument functions an expression may call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Sqrt,
    Sin,
    Cos,
    Tan,
    Abs,
    Floor,
    Rad,
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Func::Sqrt => "sqrt",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Abs => "abs",
            Func::Floor => "floor",
            Func::Rad => "rad",
        };
        f.write_str(s)
    }
}

impl Expr {
    /// Parses `src`; the error says what was expected and at which character.
    pub fn parse(src: &str) -> Result<Expr, String> {
        let mut p = Parser {
            s: src.as_bytes(),
            i: 0,
            depth: 0,
            ops: 0,
        };
        let e = p.sum()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("an operator or the end"));
        }
        Ok(e)
    }

    /// Every variable name used, for checking them against the model's parameters.
    pub fn vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => out.push(v.clone()),
            Expr::Neg(a) | Expr::Call(_, a) => a.vars(out),
            Expr::Bin(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Pick(k, items) => {
                k.vars(out);
                items.iter().for_each(|e| e.vars(out));
            }
        }
    }

    /// Evaluates with the given parameter values; unknown names were rejected at validation, so
    /// they evaluate to NaN here rather than panicking.
    pub fn eval(&self, env: &BTreeMap<String, f64>) -> f64 {
        match self {
            Expr::Num(x) => *x,
            Expr::Var(v) => env.get(v).copied().unwrap_or(f64::NAN),
            Expr::Neg(a) => -a.eval(env),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(env), b.eval(env));
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div => a / b,
                    Op::Pow => a.powf(b),
                }
            }
            Expr::Pick(k, items) => {
                let k = k.eval(env);
                if k.is_nan() {
                    return f64::NAN;
                }
                let i = k.round().clamp(0.0, (items.len() - 1) as f64) as usize;
                items[i].eval(env)
            }
            Expr::Call(f, a) => {
                let a = a.eval(env);
                match f {
                    Func::Sqrt => a.sqrt(),
                    Func::Sin => a.sin(),
                    Func::Cos => a.cos(),
                    Func::Tan => a.tan(),
                    Func::Abs => a.abs(),
                    Func::Floor => a.floor(),
                    Func::Rad => a.to_radians(),
                }
            }
        }
    }
}

/// The most brackets, signs, powers and calls nested in one another, and the most operators,
/// in one expression: far beyond any model's formulas, and low enough that parsing, evaluating
/// and dropping an expression never run out of stack (30,000 nested brackets used to abort).
const MAX_DEPTH: usize = 64;
const MAX_OPS: usize = 1000;
/// How much of an expression an error quotes on each side of the bad character.
const QUOTE: usize = 40;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    ops: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn err(&self, expected: &str) -> String {
        let found = match self.s.get(self.i) {
            Some(c) => format!("`{}` at character {}", *c as char, self.i + 1),
            None => "the end".into(),
        };
        format!(
            "in expression {}: expected {expected}, found {found}",
            self.quote()
        )
    }

    /// The expression, or for a long one the part around the current character.
    fn quote(&self) -> String {
        if self.s.len() <= 2 * QUOTE + 20 {
            return format!("{:?}", String::from_utf8_lossy(self.s));
        }
        let lo = self.i.saturating_sub(QUOTE);
        let hi = (self.i + QUOTE).min(self.s.len());
        format!(
            "{}{:?}{} ({} characters)",
            if lo > 0 { "…" } else { "" },
            String::from_utf8_lossy(&self.s[lo..hi]),
            if hi < self.s.len() { "…" } else { "" },
            self.s.len()
        )
    }

    /// Counts one nesting level (a bracket, sign, power or call) until [`Parser::leave`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "in expression {}: nested more than {MAX_DEPTH} levels deep; split it into \
                 parameters",
                self.quote()
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Counts one operator.
    fn op(&mut self) -> Result<(), String> {
        self.ops += 1;
        if self.ops > MAX_OPS {
            return Err(format!(
                "in expression {}: more than {MAX_OPS} operators; split it into parameters",
                self.quote()
            ));
        }
        Ok(())
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut e = self.product()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.op()?;
            self.i += 1;
            let r = self.product()?;
            let op = if c == b'+' { Op::Add } else { Op::Sub };
            e = Expr::Bin(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            self.op()?;
            self.i += 1;
            let r = self.unary()?;
            let op = if c == b'*' { Op::Mul } else { Op::Div };
            e = Expr::Bin(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    /// `-x ^ 2` is `-(x ^ 2)`, as in mathematics; `2 ^ -1` works too.
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(b'-') {
            self.op()?;
            self.enter()?;
            self.i += 1;
            let e = Expr::Neg(Box::new(self.unary()?));
            self.leave();
            return Ok(e);
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.atom()?;
        if self.peek() == Some(b'^') {
            self.op()?;
            self.enter()?;
            self.i += 1;
            let exp = self.unary()?;
            self.leave();
            return Ok(Expr::Bin(Op::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    /// A number, name, call or bracketed expression. Long: one arm per token kind.
    fn atom(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.i += 1;
                let e = self.sum()?;
                if self.peek() != Some(b')') {
                    return Err(self.err("`)`"));
                }
                self.i += 1;
                self.leave();
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit()
                        || self.s[self.i] == b'.'
                        || (self.s[self.i] | 0x20) == b'e'
                        || ((self.s[self.i] == b'-' || self.s[self.i] == b'+')
                            && (self.s[self.i - 1] | 0x20) == b'e'))
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                text.parse().map(Expr::Num).map_err(|_| {
                    self.i = start;
                    self.err("a number")
                })
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
                {
                    self.i += 1;
                }
                let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                if name == "pi" {
                    return Ok(Expr::Num(std::f64::consts::PI));
                }
                if name == "pick" && self.peek() == Some(b'(') {
                    self.op()?;
                    self.enter()?;
                    self.i += 1;
                    let k = self.sum()?;
                    let mut items = Vec::new();
                    while self.peek() == Some(b',') {
                        self.op()?;
                        self.i += 1;
                        items.push(self.sum()?);
                    }
                    if self.peek() != Some(b')') {
                        return Err(self.err("`,` or `)`"));
                    }
                    if items.is_empty() {
                        return Err(self.err("pick(k, a, b, ...) with at least one value after k"));
                    }
                    self.i += 1;
                    self.leave();
                    return Ok(Expr::Pick(Box::new(k), items));
                }
                if self.peek() == Some(b'(') {
                    let f = match name.as_str() {
                        "sqrt" => Func::Sqrt,
                        "sin" => Func::Sin,
                        "cos" => Func::Cos,
                        "tan" => Func::Tan,
                        "abs" => Func::Abs,
                        "floor" => Func::Floor,
                        "rad" => Func::Rad,
                        _ => {
                            self.i = start;
                            return Err(self.err(
                                "a function among sqrt, sin, cos, tan, abs, floor, rad, pick",
                            ));
                        }
                    };
                    self.op()?;
                    self.enter()?;
                    self.i += 1;
                    let a = self.sum()?;
                    if self.peek() != Some(b')') {
                        return Err(self.err("`)`"));
                    }
                    self.i += 1;
                    self.leave();
                    return Ok(Expr::Call(f, Box::new(a)));
                }
                Ok(Expr::Var(name))
            }
            _ => Err(self.err("a number, a parameter name or `(`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_with_precedence_and_params() {
        let env: BTreeMap<String, f64> = [("a".to_string(), 2.0), ("b_2".to_string(), 3.0)].into();
        let cases = [
            ("1 + 2 * 3", 7.0),
            ("(1 + 2) * 3", 9.0),
            ("-a ^ 2", -4.0),
            ("a * b_2 / 2", 3.0),
            ("sqrt(16) + 1e1", 14.0),
            ("2 - 1 - 1", 0.0),
            ("cos(rad(180))", -1.0),
        ];
        for (src, want) in cases {
            let got = Expr::parse(src).unwrap().eval(&env);
            assert!((got - want).abs() < 1e-12, "{src} = {got}, want {want}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert!(Expr::parse("1 +").unwrap_err().contains("found the end"));
        assert!(Expr::parse("2 $ 3").unwrap_err().contains("character 3"));
        assert!(Expr::parse("foo(2)").unwrap_err().contains("sqrt"));
    }

    #[test]
    fn deep_or_long_expressions_are_errors_that_quote_a_little() {
        for (src, expect) in [
            (
                format!("{}1{}", "(".repeat(30_000), ")".repeat(30_000)),
                "nested more than",
            ),
            (format!("{}1", "-".repeat(30_000)), "more than"),
            (format!("{}1", "sqrt(".repeat(5_000)), "nested more than"),
            (format!("2{}", "^2".repeat(30_000)), "more than"),
            (vec!["x"; 150_000].join(" + "), "more than 1000 operators"),
        ] {
            let err = Expr::parse(&src).unwrap_err();
            assert!(err.contains(expect), "{err}");
            assert!(
                err.len() < 300,
                "the error quotes too much: {} chars",
                err.len()
            );
        }
        // at the limits it still parses
        let deep = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(Expr::parse(&deep).unwrap().eval(&BTreeMap::new()), 1.0);
        let long = vec!["1"; MAX_OPS + 1].join("+");
        assert_eq!(Expr::parse(&long).unwrap().eval(&BTreeMap::new()), 1001.0);
        let err = Expr::parse(&format!("{} + )", "a".repeat(500))).unwrap_err();
        assert!(
            err.contains("(504 characters)") && err.contains('…'),
            "{err}"
        );
    }

    #[test]
    fn pick_takes_the_value_at_the_rounded_index() {
        let e = Expr::parse("pick(k, 0.9, 0.1 + x, 2 * x)").unwrap();
        let mut vars = Vec::new();
        e.vars(&mut vars);
        assert_eq!(vars, ["k", "x", "x"]);
        let at = |k: f64| {
            e.eval(&BTreeMap::from([
                ("k".to_string(), k),
                ("x".to_string(), 3.0),
            ]))
        };
        assert_eq!(
            [at(0.0), at(1.2), at(1.6), at(7.0), at(-2.0)],
            [0.9, 3.1, 6.0, 6.0, 0.9]
        );
        assert!(at(f64::NAN).is_nan());
        assert!(Expr::parse("pick(k)")
            .unwrap_err()
            .contains("at least one value"));
        assert!(Expr::parse("pick(k, 1").unwrap_err().contains("`,` or `)`"));
    }
}
