//! Glob matching for `resource.customizations` keys, as Argo CD's `util/glob.Match`
//! (gobwas/glob without separators): `*` matches any run of characters including `/`, `?`
//! one character, `[abc]`, `[a-z]`, `[!abc]` a class, `{a,b}` alternatives, `\x` a literal.

/// Whether the key contains glob syntax (else it only matches itself).
pub(crate) fn is_pattern(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{', '\\'])
}

/// How many characters of the pattern are literal (a measure of how specific it is).
pub(crate) fn literal_len(pattern: &str) -> usize {
    let mut n = 0;
    let mut in_class = false;
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                n += 1;
            }
            '\\' => escaped = true,
            '[' => in_class = true,
            ']' if in_class => in_class = false,
            '*' | '?' | '{' | '}' | ',' => {}
            _ if !in_class => n += 1,
            _ => {}
        }
    }
    n
}

/// Whether `text` matches `pattern`. A malformed pattern matches nothing (Argo CD logs the
/// compile error and answers false).
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let Some(alternatives) = expand_braces(pattern, 0) else {
        return false;
    };
    let text: Vec<char> = text.chars().collect();
    alternatives.iter().any(|p| {
        let p: Vec<char> = p.chars().collect();
        match_here(&p, &text).unwrap_or(false)
    })
}

/// Expands `{a,b}` alternatives into plain patterns (nested braces allowed, bounded).
fn expand_braces(pattern: &str, depth: usize) -> Option<Vec<String>> {
    if depth > 8 {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' => {
                // Skip a class: braces inside it are literal.
                i += 1;
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            '{' => {
                let close = find_close(&chars, i)?;
                let prefix: String = chars[..i].iter().collect();
                let suffix: String = chars[close + 1..].iter().collect();
                let mut out = Vec::new();
                for alt in split_top_level(&chars[i + 1..close]) {
                    let combined = format!("{prefix}{alt}{suffix}");
                    out.extend(expand_braces(&combined, depth + 1)?);
                    if out.len() > 256 {
                        return None;
                    }
                }
                return Some(out);
            }
            '}' => return None,
            _ => i += 1,
        }
    }
    Some(vec![pattern.to_string()])
}

fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn split_top_level(chars: &[char]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                cur.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    cur.push(n);
                }
                i += 1;
            }
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
        i += 1;
    }
    parts.push(cur);
    parts
}

/// Matches a brace-free pattern; `None` for a malformed one. Star backtracking is iterative
/// (the classic two-pointer algorithm), so the cost stays O(pattern × text).
fn match_here(p: &[char], t: &[char]) -> Option<bool> {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' if ti < t.len() => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' if ti < t.len() => {
                    let (matched, next) = match_class(p, pi, t[ti])?;
                    if matched {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                }
                '\\' => {
                    let lit = *p.get(pi + 1)?;
                    if ti < t.len() && t[ti] == lit {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c if c != '?' && c != '[' && ti < t.len() && t[ti] == c => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        } else if ti == t.len() {
            return Some(true);
        }
        // Mismatch: let the last star swallow one more character.
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => {
                // Validate the rest of the pattern so a malformed one never matches.
                return validate(&p[pi.min(p.len())..]).map(|()| false);
            }
        }
    }
}

/// `[...]` at `p[start]` against `c`: (matched, index after the class).
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&n| n != ']') {
            let hi = *p.get(i + 2)?;
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
}

fn validate(p: &[char]) -> Option<()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                p.get(i + 1)?;
                i += 2;
            }
            '[' => {
                let (_, next) = match_class(p, i, '\0')?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_crosses_slashes() {
        assert!(matches(
            "*.aws.crossplane.io/*",
            "ec2.aws.crossplane.io/Instance"
        ));
        assert!(matches(
            "ec2.aws.crossplane.io/*",
            "ec2.aws.crossplane.io/VPC"
        ));
        assert!(!matches(
            "ec2.aws.crossplane.io/*",
            "s3.aws.crossplane.io/Bucket"
        ));
        assert!(matches("*", "apps/Deployment"));
        assert!(matches("*/*", "apps/Deployment"));
        assert!(!matches("*/*", "Pod"));
        assert!(matches("*Pod", "Pod"));
    }

    #[test]
    fn classes_alternatives_escapes() {
        assert!(matches("example.com/Widget?", "example.com/WidgetA"));
        assert!(!matches("example.com/Widget?", "example.com/Widget"));
        assert!(matches("[a-c]x.io/K", "bx.io/K"));
        assert!(!matches("[!a-c]x.io/K", "bx.io/K"));
        assert!(matches("{foo,bar}.io/*", "bar.io/Thing"));
        assert!(!matches("{foo,bar}.io/*", "baz.io/Thing"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
    }

    #[test]
    fn malformed_patterns_match_nothing() {
        assert!(!matches("[abc", "a"));
        assert!(!matches("{a,b", "a"));
        assert!(!matches("a}", "a}"));
        assert!(!matches("a\\", "a"));
    }

    #[test]
    fn no_blowup() {
        let p = "*a*a*a*a*a*a*a*a*a*a*b";
        let t = "a".repeat(2000);
        assert!(!matches(p, &t));
    }
}
