//! Mentions: `@username` of a member in a message's text, and `@all` in groups.

use crate::{ConversationKind, Role};

/// The username a mention names, `all` included: the `[a-z0-9_.-]` run after an `@` that
/// starts the text or follows a character that is no part of a username (so `a@b.c` is no
/// mention). Upper case is read as lower case; a trailing `.` or `-` ends the sentence, not the
/// name.
pub fn named(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !prev.is_some_and(|p| is_name(p) || p == '@') {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            let name = rest[..end]
                .trim_end_matches(['.', '-'])
                .to_ascii_lowercase();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        prev = Some(c);
    }
    out
}

/// A member as mentions need it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub user_id: &'a str,
    pub username: &'a str,
}

/// Who `text` mentions among the conversation's `members` (the sender never): each member it
/// names, and every member for `@all` when it is a group and the sender is its owner or an
/// admin (from anyone else, `@all` names no one). In the order of the members.
pub fn resolve(
    text: &str,
    kind: ConversationKind,
    sender_id: &str,
    sender_role: Role,
    members: &[Candidate<'_>],
) -> Vec<String> {
    if !text.contains('@') {
        return Vec::new();
    }
    let names = named(text);
    let all = kind == ConversationKind::Group
        && matches!(sender_role, Role::Owner | Role::Admin)
        && names.iter().any(|n| n == "all");
    members
        .iter()
        .filter(|m| m.user_id != sender_id)
        .filter(|m| all || names.iter().any(|n| n == m.username))
        .map(|m| m.user_id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_after_an_at_sign() {
        assert_eq!(
            named("hi @Bob, @carol. and @dave-! @bob again; mail a@b.c @@x @"),
            ["bob", "carol", "dave"]
        );
        assert_eq!(named("(@eve) @all"), ["eve", "all"]);
        assert!(named("no mention").is_empty());
    }

    fn members() -> Vec<Candidate<'static>> {
        vec![
            Candidate {
                user_id: "u1",
                username: "alice",
            },
            Candidate {
                user_id: "u2",
                username: "bob",
            },
            Candidate {
                user_id: "u3",
                username: "carol",
            },
        ]
    }

    #[test]
    fn only_members_and_never_the_sender() {
        let m = members();
        let g = ConversationKind::Group;
        assert_eq!(
            resolve("@bob @alice @zed", g, "u1", Role::Member, &m),
            ["u2"]
        );
        assert!(resolve("nothing", g, "u1", Role::Member, &m).is_empty());
    }

    #[test]
    fn all_only_from_owners_and_admins_of_groups() {
        let m = members();
        let g = ConversationKind::Group;
        assert_eq!(resolve("@all", g, "u1", Role::Owner, &m), ["u2", "u3"]);
        assert_eq!(resolve("@all", g, "u1", Role::Admin, &m), ["u2", "u3"]);
        assert!(resolve("@all", g, "u1", Role::Member, &m).is_empty());
        assert!(resolve("@all", ConversationKind::Direct, "u1", Role::Member, &m).is_empty());
    }
}
