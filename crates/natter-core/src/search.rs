//! Message search: how text is cut into words, how words are folded, how a query is read, and
//! how a match is shown.
//!
//! Both storage engines index the words this module makes, not their own tokenisers' idea of
//! them: SQLite's FTS5 is fed [`index_text`] (folded words joined by spaces, which its `ascii`
//! tokeniser takes as they are) and PostgreSQL a `tsvector` built from [`index_words`] without
//! its parser. So a query finds the same messages on either engine, in any language.
//!
//! Words are Unicode words (UAX #29), cut further at ASCII punctuation (`e.g` gives `e` and
//! `g`), then folded: compatibility decomposition, combining marks dropped, lower case. `Café`,
//! `CAFE` and `café` are one word.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
use unicode_segmentation::UnicodeSegmentation;

use crate::{Error, Limits};

/// The byte ranges of `text`'s words, in order.
pub fn word_ranges(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    text.unicode_word_indices().flat_map(|(start, word)| {
        let mut out = Vec::new();
        let mut from = None;
        for (i, c) in word.char_indices() {
            let cut = c.is_ascii() && !c.is_ascii_alphanumeric();
            match (cut, from) {
                (true, Some(f)) => {
                    out.push((start + f, start + i));
                    from = None;
                }
                (false, None) => from = Some(i),
                _ => {}
            }
        }
        if let Some(f) = from {
            out.push((start + f, start + word.len()));
        }
        out
    })
}

/// A word as it is indexed and matched.
pub fn fold(word: &str) -> String {
    word.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The distinct folded words of `text`, in order of first appearance.
pub fn index_words(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    word_ranges(text)
        .map(|(s, e)| fold(&text[s..e]))
        .filter(|w| !w.is_empty() && seen.insert(w.clone()))
        .collect()
}

/// What SQLite's full-text index is given for `text`: its folded words, joined by spaces.
pub fn index_text(text: &str) -> String {
    index_words(text).join(" ")
}

/// A search query: every word must be in the message; the last matches as a prefix (people
/// type it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Folded, in the order given, without repeats; never empty.
    terms: Vec<String>,
}

impl Query {
    /// Reads `q` as typed. `400` when it holds no word or is over its limits.
    pub fn parse(q: &str, limits: &Limits) -> Result<Self, Error> {
        if q.chars().count() > limits.search_query_max {
            return Err(Error::invalid(format!(
                "q is longer than {} characters",
                limits.search_query_max
            )));
        }
        let terms = index_words(q);
        if terms.is_empty() {
            return Err(Error::invalid("q must contain a word"));
        }
        if terms.len() > limits.search_terms_max {
            return Err(Error::invalid(format!(
                "q may hold at most {} words",
                limits.search_terms_max
            )));
        }
        Ok(Query { terms })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// The FTS5 `MATCH` expression: each term a quoted string, the last a prefix. Terms hold
    /// no ASCII punctuation, so none needs escaping.
    pub fn fts5(&self) -> String {
        let mut out = String::new();
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(t);
            out.push('"');
        }
        out.push('*');
        out
    }

    /// The PostgreSQL `tsquery` (text to cast, not to parse): every term, the last a prefix.
    pub fn tsquery(&self) -> String {
        let parts: Vec<String> = self
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let quoted = format!("'{}'", t.replace('\'', "''"));
                if i + 1 == self.terms.len() {
                    quoted + ":*"
                } else {
                    quoted
                }
            })
            .collect();
        parts.join(" & ")
    }

    /// Whether a folded word matches one of the terms.
    fn matches(&self, word: &str) -> bool {
        let last = self.terms.len() - 1;
        self.terms
            .iter()
            .enumerate()
            .any(|(i, t)| word == t || (i == last && word.starts_with(t.as_str())))
    }

    /// Whether `text` holds every term (the last as a prefix): what the indexes find.
    pub fn matches_text(&self, text: &str) -> bool {
        let words = index_words(text);
        let last = self.terms.len() - 1;
        self.terms.iter().enumerate().all(|(i, t)| {
            words
                .iter()
                .any(|w| w == t || (i == last && w.starts_with(t.as_str())))
        })
    }
}

/// Words of context shown before the first match.
const BEFORE: usize = 6;
/// Characters a snippet shows at most (matches included).
const SNIPPET_CHARS: usize = 200;

/// A piece of `text` around its first match, HTML-escaped, each matching word wrapped in
/// `<mark>`…`</mark>`, with `…` where text was left out.
pub fn snippet(text: &str, query: &Query) -> String {
    let words: Vec<(usize, usize)> = word_ranges(text).collect();
    let first = words
        .iter()
        .position(|&(s, e)| query.matches(&fold(&text[s..e])))
        .unwrap_or(0);
    let start = if first > BEFORE {
        words[first - BEFORE].0
    } else {
        0
    };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut shown = 0;
    let mut at = start;
    let mut cut = false;
    for &(s, e) in words.iter().skip(first.saturating_sub(BEFORE)) {
        let between = &text[at..s];
        let word = &text[s..e];
        shown += between.chars().count() + word.chars().count();
        if shown > SNIPPET_CHARS {
            cut = true;
            break;
        }
        escape_into(&mut out, between);
        if query.matches(&fold(word)) {
            out.push_str("<mark>");
            escape_into(&mut out, word);
            out.push_str("</mark>");
        } else {
            escape_into(&mut out, word);
        }
        at = e;
    }
    if cut {
        out.push('…');
    } else {
        escape_into(&mut out, &text[at..]);
    }
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(s, &Limits::default()).unwrap()
    }

    #[test]
    fn words_are_unicode_words_folded() {
        assert_eq!(
            index_words("Café, CAFE and cafe! Привет мир e.g. don't"),
            ["cafe", "and", "привет", "мир", "e", "g", "don", "t"]
        );
        assert_eq!(index_text("Hello   WORLD"), "hello world");
        assert!(index_words("!!! ... 🙂").is_empty());
    }

    #[test]
    fn a_query_needs_a_word_and_keeps_to_its_limits() {
        let l = Limits::default();
        assert!(Query::parse("", &l).is_err());
        assert!(Query::parse("  ?! ", &l).is_err());
        assert!(Query::parse(&"a".repeat(l.search_query_max), &l).is_ok());
        assert!(Query::parse(&"a".repeat(l.search_query_max + 1), &l).is_err());
        let many: Vec<String> = (0..=l.search_terms_max).map(|i| format!("w{i}")).collect();
        assert!(Query::parse(&many[..l.search_terms_max].join(" "), &l).is_ok());
        assert!(Query::parse(&many.join(" "), &l).is_err());
    }

    #[test]
    fn engine_expressions() {
        let query = q("Hello wor");
        assert_eq!(query.fts5(), "\"hello\" \"wor\"*");
        assert_eq!(query.tsquery(), "'hello' & 'wor':*");
    }

    #[test]
    fn the_last_word_is_a_prefix_the_others_whole() {
        let query = q("hel wor");
        assert!(query.matches_text("world hel"));
        assert!(!query.matches_text("hello world"));
        assert!(q("привет ми").matches_text("Привет, мир"));
        assert!(!q("zebra").matches_text("hello"));
    }

    #[test]
    fn snippet_marks_matches_and_escapes() {
        assert_eq!(
            snippet("<b>Hello</b> & world", &q("hello")),
            "&lt;b&gt;<mark>Hello</mark>&lt;/b&gt; &amp; world"
        );
        let long = format!("{} needle {}", "word ".repeat(50), "tail ".repeat(100));
        let s = snippet(&long, &q("needle"));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        assert!(s.chars().count() < 260);
    }
}
