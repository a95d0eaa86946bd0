//! Parse, don't validate: each function turns untrusted input into a value that meets the
//! limits, or says clearly what is wrong. Lengths of text are counted in Unicode scalar values
//! (`char`s), of passwords in bytes, as API.md says.

use crate::{Error, Limits};

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// 3–32 characters of `[a-z0-9_.-]`.
pub fn username(s: &str, l: &Limits) -> Result<String, Error> {
    let n = chars(s);
    if n < l.username_min || n > l.username_max {
        return Err(Error::invalid(format!(
            "username must be {}–{} characters",
            l.username_min, l.username_max
        )));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        return Err(Error::invalid(
            "username may contain only a-z, 0-9, '_', '.' and '-'",
        ));
    }
    Ok(s.to_owned())
}

/// A new account's username and display name (the username unless one is given), checked with
/// its password, as registration, an admin and the shell create accounts alike.
pub fn new_account(
    username: &str,
    password: &str,
    display_name: Option<&str>,
    l: &Limits,
) -> Result<(String, String), Error> {
    let username = self::username(username, l)?;
    self::password(password, l)?;
    let display_name = match display_name {
        Some(d) => self::display_name(d, l)?,
        None => username.clone(),
    };
    Ok((username, display_name))
}

/// 8–1024 bytes, anything goes.
pub fn password<'a>(s: &'a str, l: &Limits) -> Result<&'a str, Error> {
    if s.len() < l.password_min_bytes || s.len() > l.password_max_bytes {
        return Err(Error::invalid(format!(
            "password must be {}–{} bytes",
            l.password_min_bytes, l.password_max_bytes
        )));
    }
    Ok(s)
}

/// An invite's uses (default 1, 1–1000) and lifetime in seconds (default 7 days, from 60 s
/// to 90 days).
pub fn invite_terms(uses: Option<i64>, expires_in_s: Option<i64>) -> Result<(i64, i64), Error> {
    const DAY: i64 = 24 * 3600;
    let uses = uses.unwrap_or(1);
    if !(1..=1000).contains(&uses) {
        return Err(Error::invalid("uses must be 1–1000"));
    }
    let secs = expires_in_s.unwrap_or(7 * DAY);
    if !(60..=90 * DAY).contains(&secs) {
        return Err(Error::invalid("expires_in_s must be 60–7776000"));
    }
    Ok((uses, secs))
}

/// 1–64 characters, not blank. Surrounding white space is trimmed.
pub fn display_name(s: &str, l: &Limits) -> Result<String, Error> {
    let t = s.trim();
    if t.is_empty() || chars(t) > l.display_name_max {
        return Err(Error::invalid(format!(
            "display_name must be 1–{} characters and not blank",
            l.display_name_max
        )));
    }
    Ok(t.to_owned())
}

/// At most 16,384 characters (`413` past it) and not blank (`400`). Kept exactly as sent.
pub fn message_text(s: &str, l: &Limits) -> Result<String, Error> {
    if chars(s) > l.message_text_max {
        return Err(Error::TooLarge(format!(
            "text is longer than {} characters",
            l.message_text_max
        )));
    }
    if s.trim().is_empty() {
        return Err(Error::invalid("text must not be empty"));
    }
    Ok(s.to_owned())
}

/// A reaction: exactly one emoji (one grapheme cluster of the Unicode emoji list: skin tones,
/// flags and ZWJ sequences included).
pub fn emoji(s: &str) -> Result<String, Error> {
    if s.len() > 64 || emojis::get(s).is_none() {
        return Err(Error::invalid("a reaction must be exactly one emoji"));
    }
    Ok(s.to_owned())
}

/// An optional caption on media: the same limits as text, but absent or blank means none.
pub fn caption(s: Option<&str>, l: &Limits) -> Result<Option<String>, Error> {
    match s {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => message_text(s, l).map(Some),
    }
}

/// 1–128 characters, not blank. Surrounding white space is trimmed.
pub fn group_name(s: &str, l: &Limits) -> Result<String, Error> {
    let t = s.trim();
    if t.is_empty() || chars(t) > l.group_name_max {
        return Err(Error::invalid(format!(
            "name must be 1–{} characters and not blank",
            l.group_name_max
        )));
    }
    Ok(t.to_owned())
}

/// A new group's `member_ids`: the members other than the creator, each once, in the order
/// given. The creator's own id and repeats are ignored, but the list may hold no more ids than
/// the largest group has members (the creator included): its length is checked before anything
/// else, so an oversized list costs no more than reading it, and the rest is linear.
pub fn group_member_ids(creator: &str, ids: Vec<String>, l: &Limits) -> Result<Vec<String>, Error> {
    let max = l.group_members_max;
    if ids.len() > max {
        return Err(Error::invalid(format!(
            "member_ids holds at most {max} ids"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let members: Vec<String> = ids
        .into_iter()
        .filter(|id| id != creator && seen.insert(id.clone()))
        .collect();
    if members.len() + 1 > max {
        return Err(Error::invalid(format!("a group has at most {max} members")));
    }
    Ok(members)
}

/// 1–64 characters.
pub fn client_id(s: &str, l: &Limits) -> Result<String, Error> {
    let n = chars(s);
    if n == 0 || n > l.client_id_max {
        return Err(Error::invalid(format!(
            "client_id must be 1–{} characters",
            l.client_id_max
        )));
    }
    Ok(s.to_owned())
}

/// A device name of at most 128 characters; blank means none.
pub fn device_name(s: Option<&str>, l: &Limits) -> Result<Option<String>, Error> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if chars(t) > l.device_name_max => Err(Error::invalid(format!(
            "device_name must be at most {} characters",
            l.device_name_max
        ))),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// A page size: 1–200, 50 when absent.
pub fn page_limit(v: Option<i64>, l: &Limits) -> Result<u32, Error> {
    match v {
        None => Ok(l.page_limit_default),
        Some(n) if n >= 1 && n <= i64::from(l.page_limit_max) => Ok(n as u32),
        Some(_) => Err(Error::invalid(format!(
            "limit must be 1–{}",
            l.page_limit_max
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l() -> Limits {
        Limits::default()
    }

    #[test]
    fn username_length_edges() {
        assert!(username("ab", &l()).is_err());
        assert!(username("abc", &l()).is_ok());
        assert!(username(&"a".repeat(32), &l()).is_ok());
        assert!(username(&"a".repeat(33), &l()).is_err());
    }

    #[test]
    fn username_alphabet() {
        assert!(username("a_b.c-9", &l()).is_ok());
        assert!(username("Alice", &l()).is_err());
        assert!(username("al ice", &l()).is_err());
        assert!(username("émile", &l()).is_err());
        assert!(username("a/b", &l()).is_err());
    }

    #[test]
    fn invite_terms_have_defaults_and_bounds() {
        assert_eq!(invite_terms(None, None).unwrap(), (1, 604_800));
        assert_eq!(invite_terms(Some(1000), Some(60)).unwrap(), (1000, 60));
        assert!(invite_terms(Some(90 * 86_400), Some(90 * 86_400)).is_err());
        assert!(invite_terms(Some(1), Some(90 * 86_400)).is_ok());
        for (u, e) in [
            (Some(0), None),
            (Some(1001), None),
            (None, Some(59)),
            (None, Some(90 * 86_400 + 1)),
        ] {
            assert!(invite_terms(u, e).is_err(), "{u:?} {e:?}");
        }
    }

    #[test]
    fn password_counts_bytes() {
        assert!(password("1234567", &l()).is_err());
        assert!(password("12345678", &l()).is_ok());
        assert!(password(&"x".repeat(1024), &l()).is_ok());
        assert!(password(&"x".repeat(1025), &l()).is_err());
        // 4 chars, 8 bytes.
        assert!(password("éééé", &l()).is_ok());
    }

    #[test]
    fn display_name_edges() {
        assert!(display_name("", &l()).is_err());
        assert!(display_name("   ", &l()).is_err());
        assert_eq!(display_name(" Ann ", &l()).unwrap(), "Ann");
        assert!(display_name(&"é".repeat(64), &l()).is_ok());
        assert!(display_name(&"é".repeat(65), &l()).is_err());
    }

    #[test]
    fn message_text_edges() {
        assert_eq!(
            message_text(&"x".repeat(16_384), &l()).unwrap().len(),
            16_384
        );
        assert!(matches!(
            message_text(&"x".repeat(16_385), &l()),
            Err(Error::TooLarge(_))
        ));
        // Counted in scalar values, not bytes: 16,384 four-byte emoji fit.
        assert!(message_text(&"😀".repeat(16_384), &l()).is_ok());
        assert!(matches!(
            message_text(" \n\t", &l()),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(message_text("", &l()), Err(Error::Invalid(_))));
        assert_eq!(message_text("  hi  ", &l()).unwrap(), "  hi  ");
    }

    #[test]
    fn caption_is_optional() {
        assert_eq!(caption(None, &l()).unwrap(), None);
        assert_eq!(caption(Some("  "), &l()).unwrap(), None);
        assert_eq!(caption(Some("a"), &l()).unwrap().as_deref(), Some("a"));
        assert!(caption(Some(&"x".repeat(16_385)), &l()).is_err());
    }

    #[test]
    fn group_name_edges() {
        assert!(group_name("", &l()).is_err());
        assert!(group_name(&"n".repeat(128), &l()).is_ok());
        assert!(group_name(&"n".repeat(129), &l()).is_err());
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i}")).collect()
    }

    #[test]
    fn group_member_ids_drop_the_creator_and_repeats_in_order() {
        let given = ["b", "me", "a", "b", "me", "c", "a"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            group_member_ids("me", given, &l()).unwrap(),
            ["b", "a", "c"].map(String::from)
        );
        assert!(group_member_ids("me", vec![], &l()).unwrap().is_empty());
    }

    #[test]
    fn group_member_ids_edges() {
        // 1,023 others and the creator: a full group.
        assert_eq!(group_member_ids("me", ids(1023), &l()).unwrap().len(), 1023);
        let mut with_creator = ids(1023);
        with_creator.push("me".into());
        assert_eq!(
            group_member_ids("me", with_creator, &l()).unwrap().len(),
            1023
        );
        // 1,024 others and the creator: one too many members.
        assert!(matches!(
            group_member_ids("me", ids(1024), &l()),
            Err(Error::Invalid(_))
        ));
        // 1,024 ids that are mostly repeats are fine, 1,025 ids are not, whatever they hold.
        assert_eq!(
            group_member_ids("me", vec!["me".to_owned(); 1024], &l()).unwrap(),
            Vec::<String>::new()
        );
        assert!(matches!(
            group_member_ids("me", vec!["a".to_owned(); 1025], &l()),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn client_id_edges() {
        assert!(client_id("", &l()).is_err());
        assert!(client_id("a", &l()).is_ok());
        assert!(client_id(&"c".repeat(64), &l()).is_ok());
        assert!(client_id(&"c".repeat(65), &l()).is_err());
    }

    #[test]
    fn page_limit_edges() {
        assert_eq!(page_limit(None, &l()).unwrap(), 50);
        assert!(page_limit(Some(0), &l()).is_err());
        assert_eq!(page_limit(Some(1), &l()).unwrap(), 1);
        assert_eq!(page_limit(Some(200), &l()).unwrap(), 200);
        assert!(page_limit(Some(201), &l()).is_err());
        assert!(page_limit(Some(-1), &l()).is_err());
    }

    proptest! {
        #[test]
        fn accepted_usernames_only_use_the_alphabet(s in "\\PC{0,40}") {
            if let Ok(u) = username(&s, &l()) {
                prop_assert!((3..=32).contains(&u.len()));
                prop_assert!(u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)));
            }
        }

        #[test]
        fn group_member_ids_keep_each_other_id_once(given in proptest::collection::vec("[a-e]", 0..40)) {
            let small = Limits { group_members_max: 8, ..Limits::default() };
            let mut expected: Vec<String> = Vec::new();
            for id in &given {
                if id != "a" && !expected.contains(id) {
                    expected.push(id.clone());
                }
            }
            // At most four others (b–e): only the length of the list can be refused.
            match group_member_ids("a", given.clone(), &small) {
                Ok(got) => {
                    prop_assert!(given.len() <= 8);
                    prop_assert_eq!(got, expected);
                }
                Err(_) => prop_assert!(given.len() > 8),
            }
        }

        #[test]
        fn message_text_accepts_exactly_the_nonblank_within_limit(s in "\\PC{0,64}") {
            let small = Limits { message_text_max: 32, ..Limits::default() };
            let ok = message_text(&s, &small).is_ok();
            prop_assert_eq!(ok, !s.trim().is_empty() && s.chars().count() <= 32);
        }
    }

    #[test]
    fn a_reaction_is_one_emoji() {
        for ok in ["👍", "❤️", "👍🏽", "🇫🇷", "👨‍👩‍👧", "🏳️‍🌈"]
        {
            assert_eq!(emoji(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in ["", "a", "👍👍", "👍 ", ":+1:", "1", "\u{200d}"] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
    }
}
