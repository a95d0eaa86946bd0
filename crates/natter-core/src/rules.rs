//! Who may do what in a conversation. Each check returns the error the caller gets.

use crate::{ConversationKind, Error, Role};

/// Renaming: groups only; owners and admins.
pub fn check_rename(kind: ConversationKind, actor: Role) -> Result<(), Error> {
    groups_only(kind, "a direct conversation has no name")?;
    if !actor.manages() {
        return Err(Error::forbidden(
            "only the owner or an admin may rename the group",
        ));
    }
    Ok(())
}

/// Adding a member: groups only; owners and admins; not someone already in; not past the limit;
/// and the new member's role may be `member` or `admin`, never `owner`.
pub fn check_add_member(
    kind: ConversationKind,
    actor: Role,
    new_role: Role,
    already_member: bool,
    member_count: usize,
    max_members: usize,
) -> Result<(), Error> {
    groups_only(kind, "members cannot be added to a direct conversation")?;
    if !actor.manages() {
        return Err(Error::forbidden(
            "only the owner or an admin may add members",
        ));
    }
    if new_role == Role::Owner {
        return Err(Error::invalid("role must be \"member\" or \"admin\""));
    }
    if already_member {
        return Err(Error::conflict("that user is already a member"));
    }
    if member_count >= max_members {
        return Err(Error::invalid(format!(
            "a group has at most {max_members} members"
        )));
    }
    Ok(())
}

/// Removing a member: anyone may leave; owners and admins remove others, but nobody removes
/// the owner. Direct conversations have fixed members.
pub fn check_remove_member(
    kind: ConversationKind,
    actor_id: &str,
    actor: Role,
    target_id: &str,
    target: Role,
) -> Result<(), Error> {
    groups_only(kind, "members cannot be removed from a direct conversation")?;
    if actor_id == target_id {
        return Ok(());
    }
    if !actor.manages() {
        return Err(Error::forbidden(
            "only the owner or an admin may remove members",
        ));
    }
    if target == Role::Owner {
        return Err(Error::forbidden("the owner cannot be removed"));
    }
    Ok(())
}

/// Changing a role: the owner only, to `admin` or `member`, and not the owner's own.
pub fn check_set_role(
    kind: ConversationKind,
    actor: Role,
    target: Role,
    new_role: Role,
) -> Result<(), Error> {
    groups_only(kind, "roles cannot be changed in a direct conversation")?;
    if actor != Role::Owner {
        return Err(Error::forbidden("only the owner may change roles"));
    }
    if new_role == Role::Owner {
        return Err(Error::invalid("role must be \"admin\" or \"member\""));
    }
    if target == Role::Owner {
        return Err(Error::invalid("the owner's role cannot be changed"));
    }
    Ok(())
}

/// Editing: the sender only, and not once deleted.
pub fn check_edit(sender_id: &str, caller_id: &str, deleted: bool) -> Result<(), Error> {
    if sender_id != caller_id {
        return Err(Error::forbidden("only the sender may edit a message"));
    }
    if deleted {
        return Err(Error::conflict("a deleted message cannot be edited"));
    }
    Ok(())
}

/// Deleting for everyone: the sender, or a group's owner or admin.
pub fn check_delete_for_everyone(
    kind: ConversationKind,
    sender_id: &str,
    caller_id: &str,
    caller: Role,
) -> Result<(), Error> {
    if sender_id == caller_id || (kind == ConversationKind::Group && caller.manages()) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only the sender, or a group's owner or admin, may delete this message",
        ))
    }
}

/// Who becomes owner when the owner leaves: the longest-standing admin, else the
/// longest-standing member. `remaining` is in join order, the leaving owner not in it.
pub fn next_owner<T>(remaining: &[T], role_of: impl Fn(&T) -> Role) -> Option<&T> {
    remaining
        .iter()
        .find(|m| role_of(m) == Role::Admin)
        .or_else(|| remaining.first())
}

fn groups_only(kind: ConversationKind, why: &str) -> Result<(), Error> {
    match kind {
        ConversationKind::Group => Ok(()),
        ConversationKind::Direct => Err(Error::invalid(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationKind::*;
    use Role::*;

    fn is_forbidden<T>(r: Result<T, Error>) -> bool {
        matches!(r, Err(Error::Forbidden(_)))
    }
    fn is_invalid<T>(r: Result<T, Error>) -> bool {
        matches!(r, Err(Error::Invalid(_)))
    }

    #[test]
    fn only_managers_rename_and_only_groups() {
        assert!(check_rename(Group, Owner).is_ok());
        assert!(check_rename(Group, Admin).is_ok());
        assert!(is_forbidden(check_rename(Group, Member)));
        assert!(is_invalid(check_rename(Direct, Member)));
    }

    #[test]
    fn adding_members() {
        assert!(check_add_member(Group, Owner, Member, false, 3, 1024).is_ok());
        assert!(check_add_member(Group, Admin, Admin, false, 3, 1024).is_ok());
        assert!(is_forbidden(check_add_member(
            Group, Member, Member, false, 3, 1024
        )));
        assert!(is_invalid(check_add_member(
            Direct, Member, Member, false, 2, 1024
        )));
        assert!(matches!(
            check_add_member(Group, Owner, Member, true, 3, 1024),
            Err(Error::Conflict(_))
        ));
        assert!(check_add_member(Group, Owner, Member, false, 1023, 1024).is_ok());
        assert!(is_invalid(check_add_member(
            Group, Owner, Member, false, 1024, 1024
        )));
        assert!(is_invalid(check_add_member(
            Group, Owner, Owner, false, 3, 1024
        )));
    }

    #[test]
    fn removing_members() {
        // Anyone may leave, the owner too.
        assert!(check_remove_member(Group, "m", Member, "m", Member).is_ok());
        assert!(check_remove_member(Group, "o", Owner, "o", Owner).is_ok());
        // Managers remove others.
        assert!(check_remove_member(Group, "o", Owner, "a", Admin).is_ok());
        assert!(check_remove_member(Group, "a", Admin, "m", Member).is_ok());
        assert!(check_remove_member(Group, "a", Admin, "b", Admin).is_ok());
        // An admin cannot remove the owner; a member cannot remove anyone.
        assert!(is_forbidden(check_remove_member(
            Group, "a", Admin, "o", Owner
        )));
        assert!(is_forbidden(check_remove_member(
            Group, "m", Member, "n", Member
        )));
        assert!(is_invalid(check_remove_member(
            Direct, "m", Member, "m", Member
        )));
    }

    #[test]
    fn changing_roles() {
        assert!(check_set_role(Group, Owner, Member, Admin).is_ok());
        assert!(check_set_role(Group, Owner, Admin, Member).is_ok());
        assert!(is_forbidden(check_set_role(Group, Admin, Member, Admin)));
        assert!(is_forbidden(check_set_role(Group, Member, Member, Admin)));
        assert!(is_invalid(check_set_role(Group, Owner, Owner, Member)));
        assert!(is_invalid(check_set_role(Group, Owner, Member, Owner)));
        assert!(is_invalid(check_set_role(Direct, Member, Member, Admin)));
    }

    #[test]
    fn editing() {
        assert!(check_edit("s", "s", false).is_ok());
        assert!(is_forbidden(check_edit("s", "x", false)));
        assert!(matches!(
            check_edit("s", "s", true),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn deleting_for_everyone() {
        assert!(check_delete_for_everyone(Group, "s", "s", Member).is_ok());
        assert!(check_delete_for_everyone(Direct, "s", "s", Member).is_ok());
        assert!(check_delete_for_everyone(Group, "s", "o", Owner).is_ok());
        assert!(check_delete_for_everyone(Group, "s", "a", Admin).is_ok());
        assert!(is_forbidden(check_delete_for_everyone(
            Group, "s", "m", Member
        )));
        assert!(is_forbidden(check_delete_for_everyone(
            Direct, "s", "x", Member
        )));
    }

    #[test]
    fn next_owner_prefers_the_longest_standing_admin() {
        let members = [("m1", Member), ("a1", Admin), ("a2", Admin)];
        assert_eq!(next_owner(&members, |m| m.1).unwrap().0, "a1");
        let members = [("m1", Member), ("m2", Member)];
        assert_eq!(next_owner(&members, |m| m.1).unwrap().0, "m1");
        let none: [(&str, Role); 0] = [];
        assert!(next_owner(&none, |m| m.1).is_none());
    }
}
