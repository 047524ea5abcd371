//! Which events an endpoint receives: a list of event types (`doc.created`)
//! and patterns (`doc.*`: every type under `doc.`; `*`: every type).

/// Most patterns one endpoint may list.
pub(super) const MAX_PATTERNS: usize = 50;

/// Longest pattern.
const MAX_PATTERN_CHARS: usize = 100;

/// Checks `patterns` (non-empty, each well formed) and returns them
/// deduplicated in the order given; the message names what is wrong.
pub(super) fn validate(patterns: &[String]) -> Result<Vec<String>, String> {
    if patterns.is_empty() {
        return Err("list at least one event type or pattern (`*` for every event)".into());
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(format!(
            "at most {MAX_PATTERNS} event types or patterns, got {}",
            patterns.len()
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(patterns.len());
    for p in patterns {
        if !well_formed(p) {
            return Err(format!(
                "`{}` is not an event type or pattern: use dotted lower-case names like \
                 `doc.created`, a prefix with `.*` like `doc.*`, or `*`",
                shorten(p)
            ));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// `*`, `a.b.c`, or `a.b.*`: segments of `[a-z0-9_]`, at least two for an
/// exact type.
fn well_formed(p: &str) -> bool {
    if p == "*" {
        return true;
    }
    if p.len() > MAX_PATTERN_CHARS {
        return false;
    }
    let segment = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match p.strip_suffix(".*") {
        Some(prefix) => prefix.split('.').all(segment),
        None => p.split('.').count() >= 2 && p.split('.').all(segment),
    }
}

fn shorten(p: &str) -> String {
    if p.chars().count() > 40 {
        format!("{}…", p.chars().take(40).collect::<String>())
    } else {
        p.to_string()
    }
}

/// Whether an endpoint listening to `patterns` receives events of `kind`.
pub(super) fn matches(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == kind
            || p.strip_suffix('*')
                .is_some_and(|prefix| kind.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ps: &[&str]) -> Vec<String> {
        ps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_match_types_prefixes_and_everything() {
        let doc = list(&["doc.*"]);
        assert!(matches(&doc, "doc.created"));
        assert!(matches(&doc, "doc.version.x"));
        assert!(!matches(&doc, "docs.created"));
        assert!(!matches(&doc, "workspace.created"));
        assert!(matches(&list(&["*"]), "workspace.created"));
        let exact = list(&["doc.deleted", "workspace.renamed"]);
        assert!(matches(&exact, "workspace.renamed"));
        assert!(!matches(&exact, "doc.created"));
    }

    #[test]
    fn malformed_patterns_are_refused_with_the_culprit_named() {
        for bad in [
            "",
            "doc",
            "Doc.created",
            "doc.",
            "doc.*.x",
            "*.created",
            "doc..x",
            "doc*",
        ] {
            let e = validate(&list(&[bad])).expect_err(bad);
            assert!(e.contains("is not an event type"), "{bad}: {e}");
        }
        assert!(validate(&[]).is_err());
        assert_eq!(
            validate(&list(&["doc.*", "doc.*", "*"])).expect("valid"),
            list(&["doc.*", "*"])
        );
    }
}
