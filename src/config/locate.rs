//! Finds the line of a YAML path like `objects[2].count` in the text of a config, so messages from
//! checks that run after parsing can still say where to look. Block-style YAML is followed key by
//! key; inside flow-style (`{a: 1}`) values the line of the nearest enclosing key is given.

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `objects[2].count` into segments.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..end].parse() {
                    out.push(Seg::Index(i));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// The 1-based line where `path` is written in `text`, or the deepest ancestor found.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let content = |i: usize| {
        let t = lines[i].trim_start();
        !t.is_empty() && !t.starts_with('#')
    };
    let indent = |i: usize| lines[i].len() - lines[i].trim_start().len();
    // the text after any list dashes, and the column where it starts
    let body = |i: usize| {
        let mut t = lines[i].trim_start();
        while let Some(rest) = t.strip_prefix("- ") {
            t = rest.trim_start();
        }
        (lines[i].len() - t.len(), t)
    };
    let is_dash = |i: usize| {
        let t = lines[i].trim_start();
        t.starts_with("- ") || t == "-"
    };
    let (mut lo, mut hi) = (0usize, lines.len());
    let mut found = None;
    for seg in parse_path(path) {
        let Some(first) = (lo..hi).find(|&i| content(i)) else {
            break;
        };
        let hit = match &seg {
            Seg::Key(k) => {
                let level = body(first).0;
                (lo..hi).find(|&i| {
                    let (col, b) = body(i);
                    content(i)
                        && col == level
                        && (b.starts_with(&format!("{k}:")) || b.starts_with(&format!("\"{k}\":")))
                })
            }
            Seg::Index(n) => {
                let level = (lo..hi).find(|&i| content(i) && is_dash(i)).map(indent);
                level.and_then(|level| {
                    (lo..hi)
                        .filter(|&i| content(i) && is_dash(i) && indent(i) == level)
                        .nth(*n)
                })
            }
        };
        let Some(i) = hit else { break };
        found = Some(i + 1);
        match seg {
            Seg::Key(_) => {
                let own = body(i).0;
                lo = i + 1;
                hi = (lo..hi)
                    .find(|&j| content(j) && (indent(j) < own || (indent(j) == own && !is_dash(j))))
                    .unwrap_or(hi);
            }
            Seg::Index(_) => {
                let own = indent(i);
                lo = i;
                hi = (i + 1..hi)
                    .find(|&j| content(j) && indent(j) <= own)
                    .unwrap_or(hi);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "seed: 1\ncamera:\n  distance: 3\n  fov: {uniform: [1, 2]}\nobjects:\n  - model: a\n    count: 1\n  - model: b\n    count: many\n    params:\n      x: 2\nother:\n- y: 1\n- y: 2\n";

    #[test]
    fn finds_nested_keys_and_list_items() {
        assert_eq!(line_of(DOC, "seed"), Some(1));
        assert_eq!(line_of(DOC, "camera.fov"), Some(4));
        assert_eq!(line_of(DOC, "objects[0].count"), Some(7));
        assert_eq!(line_of(DOC, "objects[1]"), Some(8));
        assert_eq!(line_of(DOC, "objects[1].count"), Some(9));
        assert_eq!(line_of(DOC, "objects[1].params.x"), Some(11));
        assert_eq!(line_of(DOC, "other[1].y"), Some(14));
        // falls back to the deepest ancestor found
        assert_eq!(line_of(DOC, "camera.fov.uniform"), Some(4));
        assert_eq!(line_of(DOC, "missing"), None);
    }
}
