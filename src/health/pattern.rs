//! How long a Lua pattern match may run, bounded before it runs.
//!
//! Lua's matcher (`lstrlib.c`) is C code that backtracks; the instruction hook that enforces
//! the time limit never fires inside it, so the sandbox estimates the worst case of each
//! `string.find`/`match`/`gmatch`/`gsub` call first and refuses the call when the estimate is
//! beyond a budget.
//!
//! The estimate follows the matcher: a repeated item (`*`, `+`, `-`) tries the rest of the
//! pattern at up to n positions (n = subject length + 1), so every repeated item multiplies
//! the positions the rest is tried at by n, and `?` by 2 — unless the repetition is *fenced*:
//! the rest can match the empty string (its first try succeeds), or the next item, which must
//! match (a single character class, or one repeated with `+`, a `%bxy`, the `$` anchor),
//! cannot match a character the repeated item matches. Then the rest fails at once at every position inside the run and goes on at the
//! run's end only: `(%d+)-(%d+)` tries `-` after each run of digits, once. An item costs n
//! steps per position it is tried at when it scans (repetition, `%b`, a back-reference), else
//! 1; the estimate is the sum over the items, times the start positions (1 for a `^`-anchored
//! pattern, n otherwise), except when everything after a first single-class item can match
//! the empty string: then a start fails on its first character or succeeds (`%s+` in a gsub
//! is linear).

/// A set of bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn from_fn(f: impl Fn(u8) -> bool) -> ByteSet {
        let mut set = ByteSet([0; 4]);
        for c in 0..=255u8 {
            if f(c) {
                set.insert(c);
            }
        }
        set
    }
    fn insert(&mut self, c: u8) {
        self.0[usize::from(c / 64)] |= 1 << (c % 64);
    }
    fn contains(&self, c: u8) -> bool {
        self.0[usize::from(c / 64)] & (1 << (c % 64)) != 0
    }
    fn union(&mut self, other: ByteSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }
    fn negate(&mut self) {
        for a in &mut self.0 {
            *a = !*a;
        }
    }
    fn disjoint(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| a & b == 0)
    }
}

/// One position-consuming item of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A single character class with its repetition (`None`, `*`, `+`, `-`, `?`).
    Class { set: ByteSet, rep: Option<u8> },
    /// `%bxy`: scans to the balancing `y`; one continuation.
    Balanced { open: u8 },
    /// `%1`…`%9`: compares a captured string; one continuation.
    BackRef,
    /// `$` at the end of the pattern.
    End,
}

/// Lua's `%a`-style classes in the C locale (the sandbox cannot change the locale).
fn in_class(class: u8, c: u8) -> bool {
    let yes = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0,
        _ => return c == class,
    };
    if class.is_ascii_uppercase() {
        !yes
    } else {
        yes
    }
}

fn class_set(class: u8) -> ByteSet {
    ByteSet::from_fn(|c| in_class(class, c))
}

/// Parses `[...]` starting at `p[at] == b'['`; returns the set and the index after `]`, or
/// None for a malformed set (Lua then raises its own error before matching anything).
fn bracket_set(p: &[u8], at: usize) -> Option<(ByteSet, usize)> {
    let mut i = at + 1;
    let negate = p.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    // As Lua's classEnd: the first character is part of the set, even `]`.
    let start = i;
    let mut end = i;
    loop {
        let c = *p.get(end)?;
        end += 1;
        if c == b'%' {
            p.get(end)?;
            end += 1;
        }
        if p.get(end) == Some(&b']') {
            break;
        }
    }
    let body = &p[start..end];
    let mut set = ByteSet([0; 4]);
    let mut j = 0;
    while j < body.len() {
        let c = body[j];
        if c == b'%' && j + 1 < body.len() {
            set.union(class_set(body[j + 1]));
            j += 2;
        } else if j + 2 < body.len() && body[j + 1] == b'-' {
            for x in c..=body[j + 2] {
                set.insert(x);
            }
            j += 3;
        } else {
            set.insert(c);
            j += 1;
        }
    }
    if negate {
        set.negate();
    }
    Some((set, end + 1))
}

/// The pattern's items (captures and frontiers, which consume nothing, left out), or None
/// when it is malformed.
fn items(p: &[u8]) -> Option<Vec<Item>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        let (set, next) = match c {
            b'(' | b')' => {
                i += 1;
                continue;
            }
            b'$' if i + 1 == p.len() => {
                out.push(Item::End);
                i += 1;
                continue;
            }
            b'%' => match *p.get(i + 1)? {
                b'b' => {
                    let open = *p.get(i + 2)?;
                    p.get(i + 3)?;
                    out.push(Item::Balanced { open });
                    i += 4;
                    continue;
                }
                b'f' => {
                    if p.get(i + 2) != Some(&b'[') {
                        return None;
                    }
                    let (_, next) = bracket_set(p, i + 2)?;
                    i = next;
                    continue;
                }
                d if d.is_ascii_digit() => {
                    out.push(Item::BackRef);
                    i += 2;
                    continue;
                }
                class => (class_set(class), i + 2),
            },
            b'[' => bracket_set(p, i)?,
            b'.' => (ByteSet([u64::MAX; 4]), i + 1),
            literal => (ByteSet::from_fn(|x| x == literal), i + 1),
        };
        let rep = p
            .get(next)
            .copied()
            .filter(|r| matches!(r, b'*' | b'+' | b'-' | b'?'));
        out.push(Item::Class { set, rep });
        i = next + usize::from(rep.is_some());
    }
    Some(out)
}

/// Whether a repetition of `set` followed by `rest` goes on at one position only: the rest
/// can match the empty string (its first try succeeds), or its first item fails on every
/// character of `set` (so the rest fails at once inside the run).
fn fences(set: &ByteSet, rest: &[Item]) -> bool {
    let nullable = rest.iter().all(|item| {
        matches!(
            item,
            Item::Class {
                rep: Some(b'*' | b'-' | b'?'),
                ..
            }
        )
    });
    nullable
        || match &rest[0] {
            Item::End => true,
            Item::Class {
                set: other,
                rep: None | Some(b'+'),
            } => set.disjoint(other),
            Item::Balanced { open } => !set.contains(*open),
            Item::Class { .. } | Item::BackRef => false,
        }
}

/// The most steps a match of `pattern` over a subject of `subject_len` bytes may take.
/// `anchors`: a leading `^` anchors the match (find, match, gsub; not gmatch). A malformed
/// pattern costs 0: Lua refuses it before matching.
pub(crate) fn match_cost(pattern: &[u8], subject_len: usize, anchors: bool) -> f64 {
    let anchored = anchors && pattern.first() == Some(&b'^');
    let body = if anchored { &pattern[1..] } else { pattern };
    let Some(items) = items(body) else {
        return 0.0;
    };
    let n = subject_len as f64 + 1.0;
    // Positions the current item is tried at, per start position.
    let mut positions = 1.0_f64;
    let mut steps = 0.0_f64;
    for (k, item) in items.iter().enumerate() {
        match item {
            Item::Class { set, rep } => match rep {
                None => steps += positions,
                Some(b'?') => {
                    steps += positions;
                    if !fences(set, &items[k + 1..]) {
                        positions *= 2.0;
                    }
                }
                Some(_) => {
                    steps += positions * n;
                    if !fences(set, &items[k + 1..]) {
                        positions *= n;
                    }
                }
            },
            Item::Balanced { .. } | Item::BackRef => steps += positions * n,
            Item::End => steps += positions,
        }
    }
    let steps = steps.max(1.0);
    if anchored {
        return steps;
    }
    // When everything after a first single-class item can match the empty string, a start
    // either fails on its first character or the match succeeds: the starts cost one step
    // each, and the matches (gsub and gmatch go on after each) cover the subject once.
    let first_decides = matches!(items.first(), Some(Item::Class { .. }))
        && items[1..].iter().all(|item| {
            matches!(
                item,
                Item::Class {
                    rep: Some(b'*' | b'-' | b'?'),
                    ..
                }
            )
        });
    if first_decides { n + steps } else { n * steps }
}

#[cfg(test)]
mod tests {
    use super::match_cost;

    #[test]
    fn repetitions_fenced_by_a_disjoint_item_add_up() {
        // Argo CD's AdvancedCronJob date pattern: six digit runs, each ended by a separator.
        let date = b"(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z";
        let cost = match_cost(date, 20, true);
        assert!(cost < 5_000.0, "{cost}");
        assert!(match_cost(b"^(%d+)/(%d+)$", 1000, true) < 5_000.0);
        assert!(match_cost(b"[^,]+,[^,]+", 100, true) < 30_000.0);
        assert!(match_cost(b"%s*(%S+)%s*", 100, true) < 50_000.0);
    }

    #[test]
    fn overlapping_repetitions_multiply() {
        assert!(match_cost(&[&b"a*".repeat(40)[..], b"b"].concat(), 40, true) > 1e60);
        assert!(match_cost(b".-.-.-b", 5000, true) > 1e14);
        assert!(match_cost(b"a*a*a*b", 3000, false) > 1e13);
        // `%d+` then `%w` overlap (digits are alphanumeric).
        assert!(match_cost(b"%d+%w+%d+x", 1000, true) > 1e11);
        // An optional item does not fence.
        assert!(match_cost(b"a+b?a+b?a+c", 1000, true) > 1e11);
    }

    #[test]
    fn a_first_item_that_decides_is_linear() {
        // gsub(msg, "%s+", " "): each start fails at once or matches.
        assert!(match_cost(b"%s+", 1_000_000, false) < 2_100_000.0);
        assert!(match_cost(b"%s+%d*", 1_000_000, true) < 4_100_000.0);
        // ... but not when something must still match after it.
        assert!(match_cost(b"%d+x", 1_000_000, true) > 1e12);
        assert!(match_cost(b"%b()", 1_000_000, true) > 1e12);
    }

    #[test]
    fn anchors_and_sets_follow_lua() {
        // Anchored: one start; gmatch reads `^` as a literal.
        assert!(match_cost(b"^%d+x", 1000, true) < match_cost(b"^%d+x", 1000, false));
        // `[]]` is a set holding `]`; `[^%d]` excludes digits, so it fences `%d+`.
        assert!(match_cost(b"%d+[^%d]", 1000, true) < 2_100_000.0);
        assert!(match_cost(b"%d+[%d]+x", 1000, true) > 1e8);
        assert!(match_cost(b"[a-c]+[b]+x", 1000, true) > 1e8);
        assert!(match_cost(b"[a-c]+[d-f]+x", 1000, true) < 2_100_000.0);
        assert!(match_cost(b"x+%bxy", 1000, true) > 1e8);
        assert!(match_cost(b"a+%bxy", 1000, true) < 3_100_000.0);
        // Malformed patterns are Lua's to refuse.
        for bad in [&b"[a"[..], b"%", b"%b(", b"%fx"] {
            assert_eq!(match_cost(bad, 1000, true), 0.0);
        }
    }
}
