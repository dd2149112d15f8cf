//! Service DNS names in free text: env values, container args and commands, ConfigMap data.
//!
//! Recognised forms (each optionally followed by `:port`):
//! * `svc.ns.svc`, `svc.ns.svc.cluster.local` (any cluster domain), and
//!   `pod.svc.ns.svc…` (a StatefulSet pod's name): *qualified*, certainly a Service.
//! * `svc.ns`: only counts when such a Service is in the input (the caller checks).
//! * `svc`: only where a host is expected: a whole env value or data entry, a URL host
//!   (`http://svc:8080/`, `user@svc`), or `svc:port`; never a bare word in a script, where
//!   `worker` or `report` is more likely a subcommand than a host.

/// Where a string comes from, which decides whether a bare name on its own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// An env value or a config data entry: a value that is exactly a name is a host.
    Value,
    /// Args, commands, scripts: only URL hosts and `host:port`.
    Text,
}

/// A Service named in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsName<'a> {
    pub service: &'a str,
    /// The namespace written in the name, if any.
    pub namespace: Option<&'a str>,
    /// Written with `.svc`: reported as external when no such Service is in the input.
    pub qualified: bool,
    /// The name as written, with its port.
    pub text: &'a str,
}

fn host_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
}

/// A DNS-1123 label (lowercase letters, digits, `-`; no `-` at either end).
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Service name: a DNS-1035 label (starts with a letter).
fn is_service_name(s: &str) -> bool {
    is_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// Every Service name in `text`, in order.
pub fn service_names(text: &str, context: Context) -> Vec<DnsName<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !host_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && host_char(bytes[i]) {
            i += 1;
        }
        let mut end = i;
        while end > start && bytes[end - 1] == b'.' {
            end -= 1; // the full stop of a sentence, or a rooted name
        }
        if let Some(name) = candidate(text, start, end, i, context) {
            out.push(name);
        }
    }
    out
}

fn candidate(
    text: &str,
    start: usize,
    end: usize,
    run_end: usize,
    context: Context,
) -> Option<DnsName<'_>> {
    let bytes = text.as_bytes();
    let before = start.checked_sub(1).map(|p| bytes[p]);
    if start == end
        || matches!(bytes[start], b'-' | b'.')
        || before.is_some_and(|b| b == b'_' || b.is_ascii_uppercase())
        || bytes
            .get(run_end)
            .is_some_and(|b| *b == b'_' || b.is_ascii_uppercase())
    {
        return None;
    }
    let token = &text[start..end];
    // The port, if any: `:` and digits, not followed by more host text (`a:1:2`, IPv6).
    let mut with_port = end;
    if run_end == end && bytes.get(end) == Some(&b':') {
        let digits = bytes[end + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = bytes.get(end + 1 + digits);
        if digits > 0 && after.is_none_or(|b| !host_char(*b) && *b != b':') {
            with_port = end + 1 + digits;
        }
    }
    let shown = &text[start..with_port];
    let labels: Vec<&str> = token.split('.').collect();
    if !labels.iter().all(|l| is_label(l)) {
        return None;
    }
    if let Some(i) = (2..labels.len()).find(|&i| labels[i] == "svc") {
        let (service, namespace) = (labels[i - 2], labels[i - 1]);
        return is_service_name(service).then_some(DnsName {
            service,
            namespace: Some(namespace),
            qualified: true,
            text: shown,
        });
    }
    match labels.as_slice() {
        [service, namespace] if is_service_name(service) => Some(DnsName {
            service,
            namespace: Some(namespace),
            qualified: false,
            text: shown,
        }),
        [service] if is_service_name(service) => {
            let whole = context == Context::Value && text.trim() == shown;
            let url_host = text[..start].ends_with("://") || before == Some(b'@');
            let after = bytes.get(end).copied();
            // `scheme://user:password@host`: the user is not a host.
            let authority = text[end..]
                .split(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace())
                .next()
                .unwrap_or("");
            let url_host = url_host
                && !authority.contains('@')
                && after.is_none_or(|b| matches!(b, b':' | b'/' | b'?' | b'#') || !host_char(b));
            let host_port = with_port > end
                && before.is_none_or(|b| {
                    b.is_ascii_whitespace() || matches!(b, b'=' | b'"' | b'\'' | b',' | b'(')
                });
            (whole || url_host || host_port).then_some(DnsName {
                service,
                namespace: None,
                qualified: false,
                text: shown,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, context: Context) -> Vec<(String, Option<String>, bool, String)> {
        service_names(text, context)
            .into_iter()
            .map(|n| {
                (
                    n.service.to_string(),
                    n.namespace.map(String::from),
                    n.qualified,
                    n.text.to_string(),
                )
            })
            .collect()
    }

    fn one(
        service: &str,
        ns: Option<&str>,
        q: bool,
        text: &str,
    ) -> (String, Option<String>, bool, String) {
        (service.into(), ns.map(String::from), q, text.into())
    }

    #[test]
    fn qualified_forms() {
        assert_eq!(
            names("http://backend.tenant-a.svc:8080", Context::Value),
            [one(
                "backend",
                Some("tenant-a"),
                true,
                "backend.tenant-a.svc:8080"
            )]
        );
        assert_eq!(
            names("postgres.shop.svc.cluster.local:5432", Context::Value),
            [one(
                "postgres",
                Some("shop"),
                true,
                "postgres.shop.svc.cluster.local:5432"
            )]
        );
        assert_eq!(
            names(
                "host=postgres-0.postgres.shop.svc.cluster.local.",
                Context::Text
            ),
            [one(
                "postgres",
                Some("shop"),
                true,
                "postgres-0.postgres.shop.svc.cluster.local"
            )]
        );
        assert_eq!(
            names(
                "curl -fsS http://api.shop.svc.cluster.local:8080/readyz\n",
                Context::Text
            ),
            [one(
                "api",
                Some("shop"),
                true,
                "api.shop.svc.cluster.local:8080"
            )]
        );
    }

    #[test]
    fn short_forms_only_where_a_host_is_expected() {
        assert_eq!(
            names("redis", Context::Value),
            [one("redis", None, false, "redis")]
        );
        assert_eq!(
            names("redis:6379", Context::Value),
            [one("redis", None, false, "redis:6379")]
        );
        assert!(names("worker", Context::Text).is_empty(), "a subcommand");
        assert_eq!(
            names("--broker=amqp://guest@rabbit:5672/", Context::Text),
            [one("rabbit", None, false, "rabbit:5672")]
        );
        assert_eq!(
            names("--api http://api/v1", Context::Text),
            [one("api", None, false, "api")]
        );
        assert_eq!(
            names("connect db:5432 now", Context::Text),
            [one("db", None, false, "db:5432")]
        );
        assert_eq!(
            names("backend.tenant-a:8080", Context::Text),
            [one(
                "backend",
                Some("tenant-a"),
                false,
                "backend.tenant-a:8080"
            )]
        );
        assert!(names("--queue=jobs --prefetch=10", Context::Text).is_empty());
        assert!(names("--listen=:8080", Context::Text).is_empty());
        assert!(names("3.8.2", Context::Value).is_empty());
        assert!(names("10.0.0.1:80", Context::Value).is_empty());
        assert!(names("https://api.stripe.com", Context::Value).is_empty());
        assert!(names("MY_backend.ns.svc", Context::Value).is_empty());
        assert!(names("Backend", Context::Value).is_empty());
        assert!(names("a:1:2", Context::Text).is_empty());
        assert_eq!(
            names("postgres://app:secret@db:5432/app", Context::Value),
            [one("db", None, false, "db:5432")]
        );
    }
}
