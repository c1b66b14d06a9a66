//! Turns upstream descriptions into doc comments that rustdoc renders without running or
//! warning about anything.

/// `text` as `///` lines (or `//!` when `inner`), indented by nothing (rustfmt indents).
pub fn comment(text: &str, inner: bool) -> String {
    let marker = if inner { "//!" } else { "///" };
    let mut out = String::new();
    for line in sanitize(text).lines() {
        if line.is_empty() {
            out.push_str(marker);
        } else {
            out.push_str(marker);
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The description, made safe for rustdoc:
/// - every fenced block is a `text` block, so nothing becomes a doc test;
/// - leading indentation is removed, so no indented block becomes a doc test;
/// - tabs become spaces and trailing whitespace goes (rustfmt and clippy would complain);
/// - `[` and `]` that are not part of a Markdown link are escaped, so they are not read as
///   intra-doc links.
pub fn sanitize(text: &str) -> String {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', "    ");
    let mut lines = Vec::new();
    let mut in_fence = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            if in_fence {
                lines.push("```".to_owned());
            } else {
                lines.push("```text".to_owned());
                let rest = line
                    .trim_start_matches('`')
                    .trim_start_matches(|c: char| c.is_alphanumeric());
                if !rest.trim().is_empty() {
                    lines.push(rest.trim().to_owned());
                }
            }
            in_fence = !in_fence;
            continue;
        }
        let line = if in_fence {
            line.to_owned()
        } else {
            escape_inline(line)
        };
        lines.push(line);
    }
    if in_fence {
        lines.push("```".to_owned());
    }
    // No leading or trailing blank lines, no runs of blank lines.
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        if l.is_empty() && out.last().is_none_or(String::is_empty) {
            continue;
        }
        out.push(l);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// Escapes brackets outside links and inline code; neutralizes stray backtick fences mid-line.
fn escape_inline(line: &str) -> String {
    let line = line.replace("```", "``");
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    // Inside a run of N backticks (inline code) nothing is escaped.
    let mut code: Option<usize> = None;
    // Positions of `]` that close a Markdown link `[text](`.
    let mut link_closers = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let mut n = 0;
            while i + n < chars.len() && chars[i + n] == '`' {
                n += 1;
            }
            match code {
                Some(m) if m == n => code = None,
                None if has_closing_run(&chars[i + n..], n) => code = Some(n),
                _ => {}
            }
            for _ in 0..n {
                out.push('`');
            }
            i += n;
            continue;
        }
        if code.is_none() {
            if c == '[' {
                if let Some(close) = link_close(&chars, i) {
                    link_closers.push(close);
                    out.push('[');
                } else {
                    out.push_str("\\[");
                }
                i += 1;
                continue;
            }
            if c == ']' {
                if link_closers.contains(&i) {
                    out.push(']');
                } else {
                    out.push_str("\\]");
                }
                i += 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn has_closing_run(rest: &[char], n: usize) -> bool {
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == '`' {
            let mut m = 0;
            while i + m < rest.len() && rest[i + m] == '`' {
                m += 1;
            }
            if m == n {
                return true;
            }
            i += m;
        } else {
            i += 1;
        }
    }
    false
}

/// The index of the `]` closing the link text that opens at `open`, if `](` follows it without
/// another bracket in between.
fn link_close(chars: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '[' => return None,
            ']' => return (chars.get(i + 1) == Some(&'(')).then_some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn fences_become_text_and_indentation_goes() {
        let s = sanitize("Example:\n```json\n  {\"a\": [1]}\n```\n    indented code");
        assert_eq!(s, "Example:\n```text\n{\"a\": [1]}\n```\nindented code");
    }

    #[test]
    fn brackets_are_escaped_outside_links_and_code() {
        assert_eq!(
            sanitize("See [docs](https://x) and [1, 2] and ``[a]``"),
            "See [docs](https://x) and \\[1, 2\\] and ``[a]``"
        );
    }

    #[test]
    fn unclosed_fence_is_closed() {
        assert_eq!(sanitize("```\nx"), "```text\nx\n```");
    }
}
