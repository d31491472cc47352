//! Validation of single cells. Each function takes the trimmed cell and the header it came from,
//! pushes one [`Problem`] per thing wrong, and returns what was valid. Teams and projects
//! written by name go to the row's [`Names`], to be resolved later.

use std::sync::{Arc, LazyLock};

use csv::ByteRecord;
use email_address::{EmailAddress, Error as EmailError, Options as EmailOptions};

use super::Problem;
use super::names::{Names, Written, classify};
use crate::atlas::model::{GroupRoleAssignment, KNOWN_GROUP_ROLES, OrgRole, parse_group_role};

/// Longest value kept in a [`Problem`] (in characters); longer ones are cut and end with `…`.
const MAX_VALUE_CHARS: usize = 120;

/// An example id for messages.
const EXAMPLE_ID: &str = "5f1e2d3c4b5a697887766554";

/// Shortens `value` to [`MAX_VALUE_CHARS`] characters.
pub(super) fn clip(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// Items of a list cell: separated by `;`, `|` or `,`, trimmed, empty ones dropped.
fn items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '|', ','])
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn has_line_break(cell: &str) -> bool {
    cell.contains(['\n', '\r'])
}

const LINE_BREAK: &str = "the cell spans several lines: a quote (\") is probably not closed on this \
                          line or an earlier one; close it or remove it";

/// Addresses must be bare (`name@example.com`, no display name, no `[ip]` domain) and their
/// domain must contain a dot.
fn email_options() -> EmailOptions {
    EmailOptions::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld()
}

/// Checks the email cell; returns the address (trimmed, as written) when it is valid.
pub(super) fn email(cell: &str, column: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let message = if cell.is_empty() {
        "missing email address: fill it in or delete the row".to_owned()
    } else if has_line_break(cell) {
        LINE_BREAK.to_owned()
    } else if let Some(c) = cell.chars().find(|&c| crate::terminal::is_unsafe(c)) {
        hidden_character_message(c)
    } else if cell.contains(['<', '>']) {
        display_name_message(cell)
    } else if cell.contains('"') {
        "invalid email address: a quoted part (like \"a b\"@example.com) is not accepted: use \
         a plain address, like name@example.com"
            .to_owned()
    } else {
        match EmailAddress::parse_with_options(cell, email_options()) {
            Ok(address) => return Some(address.into()),
            Err(err) => format!("invalid email address: {}", email_error(cell, &err)),
        }
    };
    problems.push(Problem::new(column, cell, message));
    None
}

/// Whether `text` is an address [`email`] accepts: what `export` must keep verbatim.
pub(crate) fn is_valid_email(text: &str) -> bool {
    let mut problems = Vec::new();
    email(text, "", &mut problems).is_some()
}

/// An address holding a character that shows as nothing, or reorders or rewrites what is shown
/// around it: it would look like another person's address, so it is refused with the code
/// point named.
fn hidden_character_message(c: char) -> String {
    let kind = if c.is_control() {
        "control"
    } else {
        "invisible"
    };
    format!(
        "invalid email address: {kind} character U+{:04X} in email: retype the address, or \
         delete the character",
        u32::from(c)
    )
}

fn display_name_message(cell: &str) -> String {
    let inner = match (cell.find('<'), cell.rfind('>')) {
        // `<` and `>` are ASCII, so these indices are character boundaries.
        (Some(open), Some(close)) if open < close => cell[open + 1..close].trim(),
        _ => "",
    };
    if inner.is_empty() {
        "invalid email address: contains < or >: keep only the address, like name@example.com"
            .to_owned()
    } else {
        format!(
            "invalid email address: a name with an address in <>: keep only the address ({inner})"
        )
    }
}

fn email_error(cell: &str, err: &EmailError) -> String {
    let domain = cell.rsplit_once('@').map_or("", |(_, domain)| domain);
    match err {
        EmailError::MissingSeparator => "there is no @".to_owned(),
        EmailError::LocalPartEmpty => "nothing before the @".to_owned(),
        EmailError::DomainEmpty => "nothing after the @".to_owned(),
        EmailError::LocalPartTooLong => {
            "the part before the @ is longer than 64 characters".to_owned()
        }
        EmailError::DomainTooLong | EmailError::SubDomainTooLong => {
            "the domain is too long".to_owned()
        }
        EmailError::SubDomainEmpty => {
            format!("the domain {domain:?} has an empty part (a leading, trailing or doubled dot)")
        }
        EmailError::DomainTooFew => format!(
            "the domain {domain:?} has no dot; HR exports hold full addresses like \
             name@example.com, so check for a typo"
        ),
        EmailError::UnsupportedDomainLiteral | EmailError::InvalidIPAddress => {
            "an IP address in [] is not accepted: use the domain name".to_owned()
        }
        EmailError::UnsupportedDisplayName
        | EmailError::MissingDisplayName
        | EmailError::MissingEndBracket => {
            "keep only the address, like name@example.com".to_owned()
        }
        _ => bad_character(cell),
    }
}

/// Names the first character that cannot appear where it is.
fn bad_character(cell: &str) -> String {
    if cell.matches('@').count() > 1 {
        return "contains more than one @: put one address per row".to_owned();
    }
    if cell.contains([',', ';']) {
        return "contains a , or ;: put one address per row".to_owned();
    }
    if cell.chars().any(char::is_whitespace) {
        return "contains a space: remove it".to_owned();
    }
    let (local, domain) = cell.rsplit_once('@').unwrap_or((cell, ""));
    let local_ok = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let domain_ok = |c: char| c.is_alphanumeric() || c == '-' || c == '.';
    let bad = local
        .chars()
        .find(|&c| !local_ok(c))
        .or_else(|| domain.chars().find(|&c| !domain_ok(c)));
    if let Some(c) = bad {
        return format!("the character {c:?} is not allowed here");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        "the part before the @ has a leading, trailing or doubled dot".to_owned()
    } else if domain
        .split('.')
        .any(|part| part.starts_with('-') || part.ends_with('-'))
    {
        format!("a part of the domain {domain:?} starts or ends with a dash")
    } else {
        "not a valid address: check it for typos".to_owned()
    }
}

static UNKNOWN_ORG_ROLE: LazyLock<String> = LazyLock::new(|| {
    let all: Vec<&str> = OrgRole::ALL.iter().map(|r| r.as_str()).collect();
    format!(
        "unknown organization role (expected one of {})",
        all.join(", ")
    )
});

static GROUP_ROLES_LIST: LazyLock<String> = LazyLock::new(|| KNOWN_GROUP_ROLES.join(", "));

/// Parses the roles cell into a set of [`role_bit`]s; the flag tells whether the cell had any
/// item at all (valid or not).
pub(super) fn roles(cell: &str, column: &str, problems: &mut Vec<Problem>) -> (u8, bool) {
    if has_line_break(cell) {
        problems.push(Problem::new(column, cell, LINE_BREAK));
        return (0, true);
    }
    let mut mask = 0u8;
    let mut any = false;
    for item in items(cell) {
        any = true;
        match org_role(item) {
            Some(role) => mask |= role_bit(role),
            None => {
                let message = match parse_group_role(item) {
                    Some(group_role) if item.to_ascii_uppercase().starts_with("GROUP") => format!(
                        "{group_role} is a project role, not an organization role: put it in the \
                         projects column as <projectId>:{group_role}"
                    ),
                    _ => UNKNOWN_ORG_ROLE.clone(),
                };
                problems.push(Problem::new(column, item, message));
            }
        }
    }
    (mask, any)
}

/// The roles of a set of [`role_bit`]s, in [`OrgRole::ALL`] order.
pub(super) fn roles_of(mask: u8) -> Vec<OrgRole> {
    let mut roles = Vec::with_capacity(mask.count_ones() as usize);
    roles.extend(
        OrgRole::ALL
            .into_iter()
            .filter(|&role| mask & role_bit(role) != 0),
    );
    roles
}

/// [`OrgRole::parse`], with a fast path for the wire name as written.
fn org_role(item: &str) -> Option<OrgRole> {
    OrgRole::ALL
        .into_iter()
        .find(|role| role.as_str() == item)
        .or_else(|| OrgRole::parse(item))
}

/// [`parse_group_role`], with a fast path for a known role as written.
fn group_role(item: &str) -> Option<String> {
    match KNOWN_GROUP_ROLES.iter().find(|&&known| known == item) {
        Some(known) => Some((*known).to_owned()),
        None => parse_group_role(item),
    }
}

/// One bit per organization role, for sets of roles that cost no allocation.
pub(super) fn role_bit(role: OrgRole) -> u8 {
    let index = OrgRole::ALL.iter().position(|&r| r == role).unwrap_or(0);
    1 << index
}

/// Why `id`, which looks like an id, is not one, for a `kind` of id ("team", "project").
pub(super) fn id_message(kind: &str, id: &str) -> String {
    let chars = id.chars().count();
    if chars == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return format!(
            "{kind} ids are lower-case: write {}",
            id.to_ascii_lowercase()
        );
    }
    let detail = if chars != 24 {
        format!("this one has {chars} characters")
    } else {
        let bad = id.chars().find(|c| !c.is_ascii_hexdigit()).unwrap_or('?');
        format!("{bad:?} is not a hexadecimal digit")
    };
    format!(
        "not a {kind} id: Atlas ids are 24 lower-case hexadecimal characters like {EXAMPLE_ID} \
         ({detail}); copy the id again from Atlas, or write the {kind}'s name"
    )
}

/// Parses the teams cell: ids are returned, names go to `names`.
pub(super) fn teams(
    cell: &str,
    column: &Arc<str>,
    problems: &mut Vec<Problem>,
    names: &mut Option<Box<Names>>,
) -> Vec<String> {
    if has_line_break(cell) {
        problems.push(Problem::new(column, cell, LINE_BREAK));
        return Vec::new();
    }
    let mut teams: Vec<String> = Vec::with_capacity(items(cell).count());
    for item in items(cell) {
        match classify(item) {
            Ok(Written::Id(id)) => {
                if !teams.iter().any(|t| t == id) {
                    teams.push(id.to_owned());
                }
            }
            Ok(Written::Name(name)) => names
                .get_or_insert_with(Box::default)
                .add_team(&Arc::from(name), column),
            Err(()) => problems.push(Problem::new(column, item, id_message("team", item))),
        }
    }
    teams.shrink_to_fit();
    teams
}

/// Parses the projects cell: items `<project>:<GROUP_ROLE>`, grouped per project, where the
/// project is an id or a name (names go to `names`).
pub(super) fn projects(
    cell: &str,
    column: &Arc<str>,
    problems: &mut Vec<Problem>,
    names: &mut Option<Box<Names>>,
) -> Vec<GroupRoleAssignment> {
    if has_line_break(cell) {
        problems.push(Problem::new(column, cell, LINE_BREAK));
        return Vec::new();
    }
    let mut projects: Vec<GroupRoleAssignment> = Vec::with_capacity(items(cell).count());
    for item in items(cell) {
        // Project names may contain ':', roles never do.
        let Some((id, role)) = item.rsplit_once(':') else {
            let message = if item.to_ascii_uppercase().starts_with("GROUP") {
                format!(
                    "expected <project>:<GROUP_ROLE>, like {EXAMPLE_ID}:GROUP_READ_ONLY or \
                     Prod:GROUP_READ_ONLY"
                )
            } else {
                format!(
                    "missing the project role: write {item}:GROUP_READ_ONLY (or another GROUP_* role)"
                )
            };
            problems.push(Problem::new(column, item, message));
            continue;
        };
        let (id, role) = (id.trim(), role.trim());
        let before = problems.len();
        let mut name = None;
        if id.is_empty() {
            problems.push(Problem::new(
                column,
                item,
                format!("missing the project id or name before the ':', like {EXAMPLE_ID}:{role}"),
            ));
        } else {
            match classify(id) {
                Ok(Written::Id(_)) => {}
                Ok(Written::Name(n)) => name = Some(n),
                Err(()) => problems.push(Problem::new(column, item, id_message("project", id))),
            }
        }
        let role = if role.is_empty() {
            problems.push(Problem::new(
                column,
                item,
                "missing the project role after the ':', like GROUP_READ_ONLY",
            ));
            None
        } else {
            let parsed = group_role(role);
            if parsed.is_none() {
                problems.push(Problem::new(column, item, group_role_message(role)));
            }
            parsed
        };
        let Some(role) = role else { continue };
        if problems.len() > before {
            continue;
        }
        if let Some(name) = name {
            names.get_or_insert_with(Box::default).add_project_role(
                &Arc::from(name),
                column,
                &role,
            );
            continue;
        }
        match projects.iter_mut().find(|p| p.group_id == id) {
            Some(project) => {
                if !project.roles.contains(&role) {
                    project.roles.push(role);
                }
            }
            None => projects.push(GroupRoleAssignment {
                group_id: id.to_owned(),
                roles: vec![role],
            }),
        }
    }
    // Memory matters with a million rows: drop the spare capacity of lists that grew.
    for project in &mut projects {
        project.roles.shrink_to_fit();
    }
    projects.shrink_to_fit();
    projects
}

pub(super) fn group_role_message(role: &str) -> String {
    match OrgRole::parse(role) {
        Some(org_role) => format!(
            "{org_role} is an organization role, not a project role: put it in the roles column \
             (project roles are GROUP_*, e.g. {})",
            *GROUP_ROLES_LIST
        ),
        None => format!(
            "unknown project role {role:?} (expected a GROUP_* role such as {})",
            *GROUP_ROLES_LIST
        ),
    }
}

/// Cells beyond the header's width must be empty.
pub(super) fn extra_cells(
    record: &ByteRecord,
    width: usize,
    delimiter: u8,
    problems: &mut Vec<Problem>,
) {
    if record.len() <= width {
        return;
    }
    let first = record
        .iter()
        .enumerate()
        .skip(width)
        .map(|(i, raw)| (i, std::str::from_utf8(raw).unwrap_or("").trim()))
        .find(|(_, text)| !text.is_empty());
    if let Some((index, text)) = first {
        let delimiter = match delimiter {
            b'\t' => "a tab".to_owned(),
            d => format!("\"{}\"", char::from(d)),
        };
        problems.push(Problem::new(
            &format!("column {}", index + 1),
            text,
            format!(
                "the row has more cells than the header's {width} columns: a value containing \
                 {delimiter} must be quoted, otherwise remove the extra cells"
            ),
        ));
    }
}
