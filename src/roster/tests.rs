use std::path::PathBuf;
use std::sync::Arc;

use super::scan::Scanner;
use super::*;

const T1: &str = "5f1e2d3c4b5a697887766554";
const T2: &str = "5f1e2d3c4b5a697887766555";
const P1: &str = "6a0b1c2d3e4f5a6b7c8d9e0f";
const P2: &str = "6a0b1c2d3e4f5a6b7c8d9e10";

fn read(text: &str) -> Roster {
    read_bytes(text.as_bytes())
}

fn read_bytes(bytes: &[u8]) -> Roster {
    parse(bytes, &RosterOptions::default())
        .unwrap_or_else(|err| panic!("expected a roster, got the error: {err}"))
}

fn fail(bytes: &[u8]) -> RosterError {
    match parse(bytes, &RosterOptions::default()) {
        Ok(roster) => panic!("expected an error, got {roster:?}"),
        Err(err) => err,
    }
}

fn lines(rows: &[InvalidRow]) -> Vec<u64> {
    rows.iter().map(|r| r.line).collect()
}

fn only_problem(roster: &Roster) -> &Problem {
    assert_eq!(roster.invalid.len(), 1, "{:?}", roster.invalid);
    assert_eq!(roster.invalid[0].problems.len(), 1, "{:?}", roster.invalid);
    &roster.invalid[0].problems[0]
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

// ----- headers ----------------------------------------------------------------------------------

#[test]
fn headers_match_case_insensitively_after_trimming_and_bom() {
    let r = read("\u{feff}  E-Mail ,ROLE,Team IDs, Projects\na@example.com,owner,,\n");
    assert_eq!(r.columns.email.as_deref(), Some("E-Mail"));
    assert_eq!(r.columns.roles.as_deref(), Some("ROLE"));
    assert_eq!(r.columns.teams.as_deref(), Some("Team IDs"));
    assert_eq!(r.columns.projects.as_deref(), Some("Projects"));
    assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgOwner]);
}

#[test]
fn every_accepted_header_name_maps_to_its_field() {
    for email in EMAIL_HEADERS {
        let r = read(&format!("{}\na@example.com\n", email.to_uppercase()));
        assert_eq!(r.invitees.len(), 1, "{email}");
    }
    for roles in ROLES_HEADERS {
        let r = read(&format!("email,{roles}\na@example.com,ORG_OWNER\n"));
        assert_eq!(r.columns.roles.as_deref(), Some(roles));
        assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgOwner], "{roles}");
    }
    for teams in TEAMS_HEADERS {
        let r = read(&format!("email,{teams}\na@example.com,{T1}\n"));
        assert_eq!(r.invitees[0].team_ids, vec![T1], "{teams}");
    }
    for projects in PROJECTS_HEADERS {
        let r = read(&format!(
            "email,{projects}\na@example.com,{P1}:GROUP_OWNER\n"
        ));
        assert_eq!(r.invitees[0].projects.len(), 1, "{projects}");
    }
}

#[test]
fn other_columns_are_ignored_and_named_once() {
    let r = read("First Name,email,Dept,Dept,,first name\na,a@example.com,x,y,z,b\n");
    assert_eq!(r.ignored_columns, vec!["First Name", "Dept", "first name"]);
    assert_eq!(r.invitees.len(), 1);
    assert_eq!(r.columns.roles, None);
}

#[test]
fn missing_email_column_lists_found_and_accepted_headers() {
    let err = fail(b"name,Role\nAda,member\n");
    let RosterError::NoEmailColumn { found } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(found, &["name", "Role"]);
    let message = err.to_string();
    assert!(message.contains("\"name\", \"Role\""), "{message}");
    assert!(message.contains("work email"), "{message}");
}

#[test]
fn a_header_that_looks_like_data_says_so() {
    let message = fail(b"a@example.com,ORG_OWNER\n").to_string();
    assert!(message.contains("looks like data"), "{message}");
}

#[test]
fn two_columns_for_the_same_field_is_a_file_error() {
    let err = fail(b"Email,name,Work Email\na@example.com,A,b@example.com\n");
    let RosterError::DuplicateColumn {
        field,
        option,
        first,
        second,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*field, *option, first.as_str(), second.as_str()),
        ("email address", "--email-column", "Email", "Work Email")
    );
    // The message names the option that settles it.
    let message = err.to_string();
    assert!(
        message.contains(r#"--email-column "Email" (or --email-column "Work Email")"#),
        "{message}"
    );
    assert!(matches!(
        fail(b"email,teams,TeamIds\n"),
        RosterError::DuplicateColumn { .. }
    ));
}

#[test]
fn a_file_without_a_header_is_empty() {
    assert!(matches!(fail(b""), RosterError::Empty));
    assert!(matches!(
        fail(b"\n\r\n  \n\xEF\xBB\xBF"),
        RosterError::Empty
    ));
    assert!(fail(b"").to_string().contains("header"));
}

#[test]
fn a_header_alone_gives_an_empty_roster() {
    let r = read("email,roles\n");
    assert_eq!((r.rows, r.invitees.len(), r.invalid.len()), (0, 0, 0));
}

// ----- delimiters, line endings, blank lines, ragged rows ---------------------------------------

#[test]
fn delimiter_is_detected_from_the_header_line() {
    let r = read("email;roles;teams\na@example.com;ORG_OWNER,ORG_READ_ONLY;\n");
    assert_eq!(r.delimiter, b';');
    assert_eq!(
        r.invitees[0].roles,
        vec![OrgRole::OrgOwner, OrgRole::OrgReadOnly]
    );
    let r = read("email\troles\na@example.com\tORG_OWNER\n");
    assert_eq!(r.delimiter, b'\t');
    assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgOwner]);
    assert_eq!(read("email\na@example.com\n").delimiter, b',');
}

#[test]
fn delimiters_inside_quotes_do_not_count() {
    // Two `;` inside quotes, one `,` outside.
    let r = read("\"e;mail;x\",email\n1,a@example.com\n");
    assert_eq!(r.delimiter, b',');
    assert_eq!(r.invitees.len(), 1);
}

#[test]
fn a_given_delimiter_overrides_detection() {
    let options = RosterOptions {
        delimiter: Some(b'|'),
        ..RosterOptions::default()
    };
    let r = parse("email|roles,x\na@example.com|owner\n".as_bytes(), &options).unwrap();
    assert_eq!(r.delimiter, b'|');
    assert_eq!(r.columns.roles, None);
    assert_eq!(r.ignored_columns, vec!["roles,x"]);
}

#[test]
fn crlf_and_blank_lines_are_fine_and_lines_are_physical() {
    let text =
        "\r\n\r\nemail,roles\r\n\r\na@example.com,owner\r\n   \r\n,\r\n\r\nb@example.com,admin\r\n";
    let r = read(text);
    assert_eq!(r.rows, 2);
    assert_eq!(r.invitees[0].line, 5);
    assert_eq!(lines(&r.invalid), vec![9]);
    assert_eq!(r.columns.email.as_deref(), Some("email"));
}

#[test]
fn lines_count_from_where_a_multi_line_record_starts() {
    let text = "email,note\na@example.com,\"two\nlines\"\n\nb@example.com,x\nbad,\"x\r\ny\"\r\nc@example\n";
    let r = read(text);
    assert_eq!(
        r.invitees.iter().map(|i| i.line).collect::<Vec<_>>(),
        [2, 5]
    );
    assert_eq!(lines(&r.invalid), vec![6, 8]);
}

#[test]
fn old_mac_line_endings_count_as_lines() {
    let r = read("email\ra@example.com\rbad\r");
    assert_eq!(r.invitees[0].line, 2);
    assert_eq!(lines(&r.invalid), vec![3]);
}

#[test]
fn line_breaks_inside_quotes_count_as_lines() {
    let r = read("email,note\na@example.com,\"x\ry\r\nz\n\"\nbad\n");
    assert_eq!(r.invitees[0].line, 2);
    assert_eq!(lines(&r.invalid), vec![6]);
}

#[test]
fn whitespace_only_rows_are_skipped_and_not_counted() {
    let r = read("email,roles,teams\n \t , ,\n;;;\na@example.com,,\n\u{a0}\n");
    assert_eq!(r.rows, 2, "the ';;;' row is not blank: it has a value");
    assert_eq!(r.invitees.len(), 1);
    assert_eq!(lines(&r.invalid), vec![3]);
}

#[test]
fn short_rows_have_empty_trailing_cells() {
    let r = read("email,first,roles,teams\na@example.com\nb@example.com,Bo\n");
    assert_eq!(r.invitees.len(), 2);
    assert!(r.invitees.iter().all(|i| i.roles_defaulted));
}

#[test]
fn extra_non_empty_cells_are_a_problem_on_that_row() {
    let r = read("email,name,roles\na@example.com,Ada,owner,extra\nb@example.com,B,owner,, \n");
    assert_eq!(r.invitees.len(), 1, "empty extra cells are fine");
    assert_eq!(r.invitees[0].line, 3);
    let problem = only_problem(&r);
    assert_eq!(problem.column, "column 4");
    assert_eq!(problem.value, "extra");
    assert!(
        problem.message.contains("\",\" must be quoted"),
        "{problem}"
    );
    // An unquoted delimiter shifts the cells: the shifted roles cell is reported as well.
    let r = read("email,name,roles\na@example.com,Lovelace, Ada,member\n");
    let values: Vec<&str> = r.invalid[0]
        .problems
        .iter()
        .map(|p| p.value.as_str())
        .collect();
    assert_eq!(values, ["Ada", "member"]);
}

// ----- list cells -------------------------------------------------------------------------------

#[test]
fn list_cells_split_on_semicolon_pipe_and_comma() {
    let text = format!(
        "email,roles,teams\na@example.com,\"member; billing admin | read only,owner\",\"{T1} |{T2};;\"\n"
    );
    let r = read(&text);
    let a = &r.invitees[0];
    assert_eq!(
        a.roles,
        vec![
            OrgRole::OrgOwner,
            OrgRole::OrgMember,
            OrgRole::OrgBillingAdmin,
            OrgRole::OrgReadOnly
        ]
    );
    assert_eq!(a.team_ids, vec![T1, T2]);
    assert!(!a.roles_defaulted);
}

#[test]
fn tab_delimited_cells_may_use_commas() {
    let r = read(&format!("email\tteams\na@example.com\t{T2}, {T1}\n"));
    assert_eq!(r.invitees[0].team_ids, vec![T2, T1]);
}

// ----- roles ------------------------------------------------------------------------------------

#[test]
fn roles_are_case_insensitive_and_the_org_prefix_is_optional() {
    let r = read(
        "email,roles\na@example.com,Member\nb@example.com,org_billing_read_only;GROUP_CREATOR\n",
    );
    assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgMember]);
    assert_eq!(
        r.invitees[1].roles,
        vec![OrgRole::OrgGroupCreator, OrgRole::OrgBillingReadOnly]
    );
}

#[test]
fn roles_are_deduplicated_in_contract_order() {
    let r = read("email,roles\na@example.com,read only;ORG_OWNER;owner;org_read_only\n");
    assert_eq!(
        r.invitees[0].roles,
        vec![OrgRole::OrgOwner, OrgRole::OrgReadOnly]
    );
}

#[test]
fn empty_roles_cell_gets_the_default_role_and_is_marked() {
    let r = read("email,roles\na@example.com,\nb@example.com, ; \nc@example.com,owner\n");
    assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgMember]);
    assert!(r.invitees[0].roles_defaulted);
    assert!(r.invitees[1].roles_defaulted);
    assert!(!r.invitees[2].roles_defaulted);

    let options = RosterOptions {
        default_role: OrgRole::OrgReadOnly,
        ..RosterOptions::default()
    };
    let r = parse("email\na@example.com\n".as_bytes(), &options).unwrap();
    assert_eq!(r.invitees[0].roles, vec![OrgRole::OrgReadOnly]);
    assert!(r.invitees[0].roles_defaulted);
}

#[test]
fn unknown_role_names_the_expected_ones() {
    let r = read("email,Roles\na@example.com,member;admin\n");
    let problem = only_problem(&r);
    assert_eq!(
        (problem.column.as_str(), problem.value.as_str()),
        ("Roles", "admin")
    );
    assert_eq!(
        problem.to_string(),
        "column \"Roles\", value \"admin\": unknown organization role (expected one of ORG_OWNER, \
         ORG_MEMBER, ORG_GROUP_CREATOR, ORG_BILLING_ADMIN, ORG_BILLING_READ_ONLY, \
         ORG_STREAM_PROCESSING_ADMIN, ORG_READ_ONLY)"
    );
}

#[test]
fn a_project_role_in_the_roles_column_says_where_it_belongs() {
    let r = read("email,roles\na@example.com,GROUP_OWNER\n");
    assert!(only_problem(&r).message.contains("projects column"));
}

// ----- teams and projects -----------------------------------------------------------------------

#[test]
fn teams_are_deduplicated_in_first_seen_order() {
    let r = read(&format!("email,teams\na@example.com,{T2};{T1};{T2}\n"));
    assert_eq!(r.invitees[0].team_ids, vec![T2, T1]);
}

#[test]
fn upper_case_hex_id_suggests_the_lower_case_form() {
    let upper = T1.to_uppercase();
    let r = read(&format!("email,teams\na@example.com,{upper}\n"));
    let problem = only_problem(&r);
    assert_eq!(problem.value, upper);
    assert!(
        problem.message.ends_with(&format!("write {T1}")),
        "{problem}"
    );

    let r = read(&format!(
        "email,projects\na@example.com,{}:GROUP_OWNER\n",
        P1.to_uppercase()
    ));
    assert!(only_problem(&r).message.contains(&format!("write {P1}")));
}

#[test]
fn malformed_team_ids_are_errors() {
    let r = read(
        "email,teams\na@example.com,5f1e2d3c4b5a69788776655\nb@example.com,5f1e2d3c4b5a69788776655g\n",
    );
    assert_eq!(lines(&r.invalid), vec![2, 3]);
    assert!(
        r.invalid[0].problems[0]
            .message
            .contains("has 23 characters")
    );
    assert!(
        r.invalid[1].problems[0]
            .message
            .contains("'g' is not a hexadecimal digit")
    );
}

#[test]
fn project_items_are_grouped_per_project_in_first_seen_order() {
    let text = format!(
        "email,projects\na@example.com,\"{P2}:read only;{P1}:GROUP_OWNER|{P2}:GROUP_OWNER,{P2}:GROUP_READ_ONLY\"\n"
    );
    let r = read(&text);
    let projects = &r.invitees[0].projects;
    assert_eq!(
        projects,
        &vec![
            GroupRoleAssignment {
                group_id: P2.into(),
                roles: vec!["GROUP_READ_ONLY".into(), "GROUP_OWNER".into()]
            },
            GroupRoleAssignment {
                group_id: P1.into(),
                roles: vec!["GROUP_OWNER".into()]
            },
        ]
    );
}

#[test]
fn bad_project_items_are_each_reported() {
    let text = format!(
        "email,projects\na@example.com,{P1};{P1}:;:GROUP_OWNER;{P1}:superuser;{P1}:ORG_OWNER;6a0b1c2d3e4f5a6b7c8d9e0:GROUP_OWNER;{P2}:GROUP_OWNER\n"
    );
    let r = read(&text);
    assert!(r.invitees.is_empty());
    let problems = &r.invalid[0].problems;
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(problems.len(), 6, "{messages:#?}");
    assert!(messages[0].starts_with("missing the project role"));
    assert!(messages[1].starts_with("missing the project role after"));
    assert!(messages[2].starts_with("missing the project id"));
    assert!(messages[3].starts_with("unknown project role \"superuser\""));
    assert!(messages[4].contains("is an organization role"));
    assert!(messages[5].starts_with("not a project id"));
    assert_eq!(problems[3].value, format!("{P1}:superuser"));
}

// ----- emails -----------------------------------------------------------------------------------

#[test]
fn emails_are_trimmed_and_keep_their_case() {
    let r = read("email\n  Ada.Lovelace@Example.com \t\n");
    assert_eq!(r.invitees[0].email, "Ada.Lovelace@Example.com");
    assert_eq!(r.invitees[0].email_key(), "ada.lovelace@example.com");
}

#[test]
fn invalid_email_syntax_is_an_error() {
    let r = read(
        "email\nnot-an-email\n@example.com\na@\njane doe@example.com\na@b@example.com\njane(x)@example.com\n",
    );
    assert!(r.invitees.is_empty());
    assert_eq!(lines(&r.invalid), vec![2, 3, 4, 5, 6, 7]);
    let messages: Vec<&str> = r
        .invalid
        .iter()
        .map(|i| i.problems[0].message.as_str())
        .collect();
    assert_eq!(messages[0], "invalid email address: there is no @");
    assert!(messages[1].contains("nothing before the @"));
    assert!(messages[2].contains("nothing after the @"));
    assert!(messages[3].contains("contains a space"));
    assert!(messages[4].contains("more than one @"));
    assert!(messages[5].contains("'('"), "{}", messages[5]);
    assert_eq!(r.invalid[0].email.as_deref(), Some("not-an-email"));

    let r = read("email\njane..doe@example.com\n");
    assert!(only_problem(&r).message.contains("doubled dot"));
}

#[test]
fn hidden_characters_and_quoted_parts_are_rejected_with_the_line() {
    let hidden = [
        '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}',
        '\u{2060}', '\u{2064}', '\u{2066}', '\u{2069}', '\u{feff}', '\u{ad}', '\u{180e}', '\u{1b}',
        '\u{7}', '\u{85}',
    ];
    let mut text = String::from("email\n");
    for c in hidden {
        text.push_str(&format!("ann{c}x@example.com\n"));
    }
    text.push_str("\"\"\"a b\"\"@example.com\"\n\"\"\"ann\"\"@example.com\"\nok@example.com\n");
    let r = read(&text);
    assert_eq!(r.invitees.len(), 1, "{:?}", r.invitees);
    assert_eq!(r.invalid.len(), hidden.len() + 2);
    for (row, c) in r.invalid.iter().zip(hidden) {
        let message = &row.problems[0].message;
        let code = format!("U+{:04X} in email", u32::from(c));
        assert!(message.contains(&code), "{c:?}: {message}");
    }
    assert!(
        r.invalid[0].problems[0]
            .message
            .contains("invisible character U+200B")
    );
    assert!(
        r.invalid[14].problems[0]
            .message
            .contains("control character U+001B")
    );
    assert_eq!(r.invalid[0].line, 2);
    for row in &r.invalid[hidden.len()..] {
        assert!(row.problems[0].message.contains("quoted part"), "{row}");
    }
    assert!(super::is_valid_email("ann@example.com"));
    assert!(!super::is_valid_email("ann\u{200b}@example.com"));
    assert!(!super::is_valid_email("\"ann\"@example.com"));
}

#[test]
fn the_export_formula_guard_is_read_away_except_in_the_email_cell() {
    use super::unguard;
    for (guarded, plain) in [
        ("'=ops", "=ops"),
        ("'+plus", "+plus"),
        ("'-minus", "-minus"),
        ("'@oncall", "@oncall"),
        ("'\t=x", "=x"),
        ("'\r@x", "@x"),
    ] {
        assert_eq!(unguard(guarded), plain);
    }
    for kept in ["'quoted", "''=x", "ops", "'", "a'=b"] {
        assert_eq!(unguard(kept), kept);
    }
    let r = read("email,roles,teams\n'-ann@example.com,'-,'@oncall\n");
    assert!(r.invitees.is_empty());
    // The email keeps its apostrophe (a legal address character); the roles cell reads `-`.
    assert_eq!(r.invalid[0].email.as_deref(), Some("'-ann@example.com"));
    let r = read("email,teams\n'-ann@example.com,'@oncall\n");
    assert_eq!(r.invitees[0].email, "'-ann@example.com");
    let names = r.invitees[0].names.as_ref().unwrap();
    assert_eq!(&*names.teams[0].name, "@oncall");
}

#[test]
fn display_name_forms_are_rejected() {
    let r = read("email\n\"Jane Doe <jane@example.com>\"\n<jane@example.com>\n");
    assert_eq!(lines(&r.invalid), vec![2, 3]);
    let message = &r.invalid[0].problems[0].message;
    assert!(
        message.contains("keep only the address (jane@example.com)"),
        "{message}"
    );
}

#[test]
fn addresses_without_a_dot_in_the_domain_are_rejected() {
    let r = read("email\njane@localhost\njane@[10.0.0.1]\n");
    assert_eq!(lines(&r.invalid), vec![2, 3]);
    let message = &r.invalid[0].problems[0].message;
    assert!(
        message.contains("has no dot") && message.contains("HR exports"),
        "{message}"
    );
}

#[test]
fn missing_email_is_an_error_without_an_email() {
    let r = read("email,roles\n,owner\n");
    assert_eq!(r.invalid[0].email, None);
    assert!(
        r.invalid[0].problems[0]
            .message
            .starts_with("missing email address")
    );
}

// ----- duplicates -------------------------------------------------------------------------------

#[test]
fn later_duplicate_with_identical_grants_is_skipped_with_both_lines() {
    let text = format!(
        "email,roles,teams\na@example.com,ORG_MEMBER,{T1};{T2}\nb@example.com,,\nA@EXAMPLE.COM,member,{T2}|{T1}\n"
    );
    let r = read(&text);
    assert_eq!(r.invitees.len(), 2);
    assert!(r.invalid.is_empty());
    assert_eq!(
        r.duplicates,
        vec![Duplicate {
            line: 4,
            first_line: 2,
            email: "A@EXAMPLE.COM".into()
        }]
    );
    assert_eq!(r.rows, 3);
}

#[test]
fn defaulted_roles_equal_the_same_explicit_role() {
    let r = read("email,roles\na@example.com,\na@example.com,ORG_MEMBER\n");
    assert_eq!(r.duplicates.len(), 1);
}

#[test]
fn later_duplicate_with_other_roles_is_an_error() {
    let r = read("email,roles\na@example.com,member\nb@example.com,\nA@example.com,owner\n");
    assert_eq!(r.invitees.len(), 2);
    assert_eq!(
        r.invitees[0].roles,
        vec![OrgRole::OrgMember],
        "the first row wins"
    );
    let problem = only_problem(&r);
    assert_eq!(r.invalid[0].line, 4);
    assert_eq!(problem.value, "A@example.com");
    assert!(
        problem.message.contains("line 2 but with different roles"),
        "{problem}"
    );
}

#[test]
fn later_duplicate_with_other_projects_names_what_differs() {
    let text = format!(
        "email,teams,projects\na@example.com,{T1},{P1}:GROUP_OWNER\na@example.com,,{P1}:GROUP_READ_ONLY\n"
    );
    let r = read(&text);
    assert!(
        only_problem(&r)
            .message
            .contains("different teams and projects")
    );
}

#[test]
fn a_repeat_of_an_invalid_row_points_at_it() {
    let r = read("email,roles\na@example.com,admin\na@example.com,member\n");
    assert_eq!(lines(&r.invalid), vec![2, 3]);
    assert!(
        r.invalid[1].problems[0]
            .message
            .contains("line 2, which has problems")
    );
    assert!(r.invitees.is_empty());
}

// ----- problems and messages --------------------------------------------------------------------

#[test]
fn a_row_collects_all_its_problems() {
    let text = "Mail,Role,Teams,Projects\nnope,admin;root,5f1e2d3c4b5a69788776655,xyz\n";
    let r = read(text);
    let row = &r.invalid[0];
    assert_eq!(row.line, 2);
    let columns: Vec<&str> = row.problems.iter().map(|p| p.column.as_str()).collect();
    assert_eq!(columns, ["Mail", "Role", "Role", "Teams", "Projects"]);
    let values: Vec<&str> = row.problems.iter().map(|p| p.value.as_str()).collect();
    assert_eq!(
        values,
        ["nope", "admin", "root", "5f1e2d3c4b5a69788776655", "xyz"]
    );
    assert_eq!(row.reason().matches("; column ").count(), 4);
    assert!(
        row.to_string()
            .starts_with("line 2: column \"Mail\", value \"nope\": ")
    );
}

#[test]
fn long_values_are_shortened() {
    let long = "x".repeat(500);
    let r = read(&format!("email,roles\na@example.com,{long}\n"));
    let value = &only_problem(&r).value;
    assert_eq!(value.chars().count(), 121);
    assert!(value.ends_with('…'));
}

#[test]
fn invitee_becomes_the_invitation_request() {
    let r = read(&format!(
        "email,roles,teams,projects\nA@example.com,owner,{T1},{P1}:GROUP_OWNER\n"
    ));
    let request = r.invitees[0].to_request();
    assert_eq!(request.username, "A@example.com");
    assert_eq!(request.roles, vec![OrgRole::OrgOwner]);
    assert_eq!(request.team_ids, vec![T1]);
    assert_eq!(request.group_role_assignments[0].group_id, P1);
}

// ----- broken files -----------------------------------------------------------------------------

#[test]
fn not_utf8_names_the_line_and_asks_for_utf8() {
    let err = fail(b"email,name\r\na@example.com,Ada\r\n\r\nb@example.com,Ren\xe9\r\n");
    assert!(matches!(err, RosterError::NotUtf8 { line: 4 }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "line 4 is not valid UTF-8: if the file comes from Excel or another Windows program, \
         pass --encoding windows-1252 (or the file's encoding: latin1, utf-16, ...); otherwise \
         save it as CSV UTF-8"
    );
    assert!(matches!(
        fail(b"e\xffmail\n"),
        RosterError::NotUtf8 { line: 1 }
    ));
}

#[test]
fn utf8_split_across_cells_is_still_not_utf8() {
    assert!(matches!(
        fail(b"email,x,y\na@example.com,\xc3,\xa9\n"),
        RosterError::NotUtf8 { line: 2 }
    ));
}

#[test]
fn an_unterminated_quote_is_a_file_error_with_its_line() {
    let err =
        fail(b"email,roles\na@example.com,member\n\nb@example.com,\"owner\nc@example.com,member\n");
    let RosterError::Csv { line, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 4);
    assert!(message.contains("never closed"), "{message}");
    assert!(err.to_string().starts_with("line 4: a quote"));
    assert!(matches!(
        fail(b"\"email,roles\n"),
        RosterError::Csv { line: 1, .. }
    ));
}

#[test]
fn a_closed_quote_spanning_lines_in_a_mapped_cell_is_a_row_problem() {
    let r = read("email,roles\n\"a@example.com\nb\",member\nc@example.com,\"member\n\"\"x\"\"\"\n");
    assert_eq!(lines(&r.invalid), vec![2, 4]);
    assert!(
        r.invalid[0].problems[0]
            .message
            .contains("spans several lines")
    );
}

#[test]
fn load_reads_a_path_and_names_it_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(&path, "email\na@example.com\n").unwrap();
    assert_eq!(
        load(&path, &RosterOptions::default())
            .unwrap()
            .invitees
            .len(),
        1
    );

    let missing = dir.path().join("missing.csv");
    let err = load(&missing, &RosterOptions::default()).unwrap_err();
    assert!(matches!(&err, RosterError::Io { path, .. } if path == &missing));
    assert!(err.to_string().contains("missing.csv"));
    assert!(std::error::Error::source(&err).is_some());
}

/// Record lines come from the scanner, which must see exactly the records `csv` returns.
fn scanner_agrees_with_csv(bytes: &[u8], delimiter: u8) {
    let scanner = Scanner::new(bytes, delimiter);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(7)
        .from_reader(scanner);
    let mut record = ByteRecord::new();
    while csv.read_byte_record(&mut record).unwrap() {
        assert!(
            csv.get_mut().next_record_line().is_some(),
            "scanner missed a record in {bytes:?}"
        );
    }
    assert_eq!(
        csv.get_mut().next_record_line(),
        None,
        "extra record in {bytes:?}"
    );
}

/// The scanner's fast skipping must end where feeding it byte by byte ends.
fn fast_scan_agrees_with_byte_steps(bytes: &[u8], delimiter: u8) {
    let mut fast = Scanner::new(io::empty(), delimiter);
    for chunk in bytes.chunks(5) {
        fast.scan(chunk);
    }
    let mut slow = Scanner::new(io::empty(), delimiter);
    for &b in bytes {
        slow.step(slow.class[usize::from(b)]);
    }
    assert_eq!(fast.starts, slow.starts, "{bytes:?}");
    assert_eq!(
        (fast.line, fast.state),
        (slow.line, slow.state),
        "{bytes:?}"
    );
}

/// Bytes a roster is made of: the CSV syntax, address and role fragments, and any byte.
fn roster_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let alphabet = b"a@.e,;\t|:\"\r\n \xc3\xa9\xff5fGROUP_OWNERmember";
    let from_alphabet =
        proptest::collection::vec(proptest::sample::select(alphabet.to_vec()), 0..200);
    let any_bytes = proptest::collection::vec(any::<u8>(), 0..200);
    let with_header = from_alphabet.clone().prop_map(|mut bytes| {
        bytes.splice(0..0, b"email,roles,teams,projects,name\n".iter().copied());
        bytes
    });
    prop_oneof![any_bytes, from_alphabet, with_header]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// The scanner finds the records the `csv` crate finds, whatever the bytes, and a roster
    /// from them never panics and accounts for every row.
    #[test]
    fn random_bytes_scan_like_the_csv_crate_and_never_panic(bytes in roster_bytes()) {
        for delimiter in [b',', b';', b'\t'] {
            scanner_agrees_with_csv(&bytes, delimiter);
            fast_scan_agrees_with_byte_steps(&bytes, delimiter);
        }
        if let Ok(roster) = parse(bytes.as_slice(), &RosterOptions::default()) {
            let counted = roster.invitees.len() + roster.invalid.len() + roster.duplicates.len();
            proptest::prop_assert_eq!(counted, roster.rows);
            for row in &roster.invalid {
                proptest::prop_assert!(!row.problems.is_empty());
                proptest::prop_assert!(row.line >= 2);
            }
        }
    }
}

// ----- fixtures ---------------------------------------------------------------------------------

#[test]
fn sample_users_are_all_valid() {
    let r = load(&fixture("samples/users.csv"), &RosterOptions::default()).unwrap();
    assert!(r.invalid.is_empty(), "{:#?}", r.invalid);
    assert!(r.duplicates.is_empty());
    assert_eq!(r.invitees.len(), 25);
    assert!(r.invitees.iter().any(|i| i.roles.len() == 2));
    assert!(
        r.invitees
            .iter()
            .any(|i| i.roles.contains(&OrgRole::OrgOwner))
    );
    assert!(r.invitees.iter().any(|i| i.roles_defaulted));
    assert!(r.invitees.iter().any(|i| !i.projects.is_empty()));
    assert_eq!(r.ignored_columns, ["first_name", "last_name", "department"]);
}

#[test]
fn mixed_fixture_reports_the_expected_lines() {
    let r = load(
        &fixture("tests/fixtures/mixed.csv"),
        &RosterOptions::default(),
    )
    .unwrap();
    let valid: Vec<u64> = r.invitees.iter().map(|i| i.line).collect();
    assert_eq!(valid, [2, 3, 12, 13, 17]);
    assert_eq!(lines(&r.invalid), [5, 6, 7, 8, 11, 14, 15, 16, 19, 20]);
    let dups: Vec<(u64, u64)> = r
        .duplicates
        .iter()
        .map(|d| (d.line, d.first_line))
        .collect();
    assert_eq!(dups, [(10, 2)]);
    assert_eq!(r.rows, 16);
    assert_eq!(
        r.invalid[8].problems[0].message,
        "missing email address: fill it in or delete the row"
    );
    assert_eq!(r.invalid[7].problems.len(), 2);
}

#[test]
fn semicolon_fixture_is_valid() {
    let r = load(
        &fixture("tests/fixtures/semicolon.csv"),
        &RosterOptions::default(),
    )
    .unwrap();
    assert_eq!(r.delimiter, b';');
    assert_eq!(r.columns.email.as_deref(), Some("E-mail"));
    assert!(r.invalid.is_empty(), "{:#?}", r.invalid);
    assert_eq!(r.invitees.len(), 4);
}

#[test]
fn not_utf8_fixture_fails_on_line_3() {
    let err = load(
        &fixture("tests/fixtures/not_utf8.csv"),
        &RosterOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RosterError::NotUtf8 { line: 3 }), "{err:?}");
}

#[test]
fn unterminated_quote_fixture_fails_on_its_line() {
    let err = load(
        &fixture("tests/fixtures/unterminated_quote.csv"),
        &RosterOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, RosterError::Csv { line: 3, .. }), "{err:?}");
}

// ----- encodings --------------------------------------------------------------------------------

fn with(options: RosterOptions, bytes: &[u8]) -> Roster {
    parse(bytes, &options).unwrap_or_else(|err| panic!("expected a roster, got the error: {err}"))
}

fn encoded(label: &str) -> RosterOptions {
    RosterOptions {
        encoding: Some(encoding::parse_label(label).unwrap()),
        ..RosterOptions::default()
    }
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend(if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        });
    }
    for unit in text.encode_utf16() {
        bytes.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}

#[test]
fn windows_1252_with_semicolons_and_crlf_reads_with_the_flag() {
    let bytes = b"Nom;E-mail;R\xf4le\r\nRen\xe9 Dupont;rene@example.com;member\r\n\r\nZo\xeb;zoe@example.com;\r\n";
    let err = fail(bytes);
    assert!(err.to_string().contains("--encoding windows-1252"), "{err}");
    let r = with(encoded("windows-1252"), bytes);
    assert_eq!(r.encoding, encoding_rs::WINDOWS_1252);
    assert_eq!(r.delimiter, b';');
    assert_eq!(r.ignored_columns, ["Nom", "Rôle"]);
    assert_eq!(
        r.invitees
            .iter()
            .map(|i| (i.line, i.email.as_str()))
            .collect::<Vec<_>>(),
        [(2, "rene@example.com"), (4, "zoe@example.com")]
    );
    // latin1 is windows-1252 under the WHATWG labels.
    assert_eq!(with(encoded("latin1"), bytes).invitees.len(), 2);
}

#[test]
fn utf16_with_a_bom_is_detected_in_both_byte_orders() {
    let text = "email,roles\r\nrené@example.com,owner\r\nb@example.com,member\r\n";
    for big_endian in [false, true] {
        let r = read_bytes(&utf16(text, big_endian, true));
        assert_eq!(r.invitees.len(), 2, "{r:?}");
        assert_eq!(r.invitees[0].email, "rené@example.com");
        assert_eq!(r.invitees[1].line, 3);
        let expected = if big_endian { "UTF-16BE" } else { "UTF-16LE" };
        assert_eq!(r.encoding.name(), expected);
    }
    // A BOM wins over a label copied from another command.
    let r = with(encoded("windows-1252"), &utf16(text, false, true));
    assert_eq!(r.encoding.name(), "UTF-16LE");
}

#[test]
fn utf16_without_a_bom_needs_the_flag_and_says_so() {
    let bytes = utf16("email\na@example.com\n", false, false);
    let err = fail(&bytes);
    assert!(matches!(err, RosterError::LooksUtf16), "{err:?}");
    assert!(err.to_string().contains("--encoding utf-16le"));
    assert_eq!(with(encoded("utf-16le"), &bytes).invitees.len(), 1);
}

#[test]
fn utf8_with_an_explicit_label_stays_strict() {
    let err = parse(&b"email\nRen\xe9@example.com\n"[..], &encoded("utf-8")).unwrap_err();
    assert!(matches!(err, RosterError::NotUtf8 { line: 2 }), "{err:?}");
    assert_eq!(read("email\na@example.com\n").encoding, encoding_rs::UTF_8);
}

#[test]
fn delimiters_and_filters_parse_from_the_command_line() {
    assert_eq!(parse_delimiter(";"), Ok(b';'));
    assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
    assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
    assert_eq!(parse_delimiter("\t"), Ok(b'\t'));
    assert_eq!(parse_delimiter("|"), Ok(b'|'));
    assert!(parse_delimiter(":").unwrap_err().contains(", ; | tab"));
    let filter: Filter = " Department = Engineering ".parse().unwrap();
    assert_eq!(
        (filter.column.as_str(), filter.value.as_str()),
        ("Department", "Engineering")
    );
    assert_eq!("Dept=".parse::<Filter>().unwrap().value, "");
    assert!("=x".parse::<Filter>().is_err());
    assert!("Department".parse::<Filter>().is_err());
}

// ----- column overrides and --where --------------------------------------------------------------

#[test]
fn a_column_option_picks_a_header_the_aliases_do_not_know() {
    let options = RosterOptions {
        columns: ColumnMap {
            email: Some("primary contact".into()),
            roles: Some("Atlas Access".into()),
            ..ColumnMap::default()
        },
        ..RosterOptions::default()
    };
    let r = with(
        options,
        b"Email,Primary Contact,Atlas Access\nold@example.com,new@example.com,owner\n",
    );
    assert_eq!(r.columns.email.as_deref(), Some("Primary Contact"));
    assert_eq!(r.columns.roles.as_deref(), Some("Atlas Access"));
    // The alias-named column is not an error any more, just unused.
    assert_eq!(r.ignored_columns, ["Email"]);
    assert_eq!(r.invitees[0].email, "new@example.com");
    assert_eq!(r.invitees[0].roles, [OrgRole::OrgOwner]);
}

#[test]
fn a_column_option_naming_a_missing_or_shared_column_is_a_file_error() {
    let options = RosterOptions {
        columns: ColumnMap {
            email: Some("Mail Address".into()),
            ..ColumnMap::default()
        },
        ..RosterOptions::default()
    };
    let err = parse(&b"Work Email,Department\n"[..], &options).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("--email-column names the column \"Mail Address\""),
        "{message}"
    );
    assert!(
        message.contains("\"Work Email\", \"Department\""),
        "{message}"
    );

    let options = RosterOptions {
        columns: ColumnMap {
            email: Some("x".into()),
            teams: Some("X".into()),
            ..ColumnMap::default()
        },
        ..RosterOptions::default()
    };
    let err = parse(&b"x\n"[..], &options).unwrap_err();
    assert!(matches!(err, RosterError::SameColumn { .. }), "{err:?}");
}

fn filtered(filters: &[&str]) -> RosterOptions {
    RosterOptions {
        filters: filters.iter().map(|f| f.parse().unwrap()).collect(),
        ..RosterOptions::default()
    }
}

#[test]
fn where_keeps_matching_rows_only_and_counts_the_others() {
    let text = "email,Department,Site\n\
                a@example.com, engineering ,Paris\n\
                b@example.com,Sales,Paris\n\
                not-an-address,Sales,Paris\n\
                c@example.com,ENGINEERING,Lyon\n\
                a@example.com,Sales,Paris\n";
    let r = with(filtered(&["department=Engineering"]), text.as_bytes());
    assert_eq!(r.rows, 2);
    assert_eq!(r.filtered_out, 3);
    assert!(r.invalid.is_empty(), "{:?}", r.invalid);
    // Line 6 repeats a@ with other grants, but it is filtered out: no duplicate, no error.
    assert!(r.duplicates.is_empty());
    assert_eq!(r.ignored_columns, ["Site"]);

    let r = with(
        filtered(&["Department=Engineering", "site = paris"]),
        text.as_bytes(),
    );
    assert_eq!(r.invitees.iter().map(|i| i.line).collect::<Vec<_>>(), [2]);
    assert_eq!(r.filtered_out, 4);

    let err = parse(text.as_bytes(), &filtered(&["Dept=Sales"])).unwrap_err();
    assert!(matches!(err, RosterError::UnknownColumn { .. }), "{err:?}");
    assert!(err.to_string().contains("\"Department\""), "{err}");
}

// ----- names of teams and projects --------------------------------------------------------------

#[test]
fn teams_and_projects_may_be_named() {
    let text = format!(
        "email,teams,projects\na@example.com,\"Platform; {T1}; platform\",\"Prod:read only;{P1}:GROUP_OWNER;prod:GROUP_OWNER\"\n"
    );
    let r = read(&text);
    let a = &r.invitees[0];
    assert_eq!(a.team_ids, [T1]);
    assert_eq!(a.projects.len(), 1);
    let names = a.names.as_deref().expect("names");
    assert_eq!(names.teams.len(), 1);
    assert_eq!(&*names.teams[0].name, "Platform");
    assert_eq!(&*names.teams[0].origin, "teams");
    assert_eq!(&*names.projects[0].name, "Prod");
    assert_eq!(names.projects[0].roles, ["GROUP_READ_ONLY", "GROUP_OWNER"]);
    assert_eq!(r.names_needed(), (true, true));
    let problem = only_problem(&read("email,projects\na@example.com,Prod\n"))
        .message
        .clone();
    assert!(problem.contains("write Prod:GROUP_READ_ONLY"), "{problem}");
}

fn directory() -> (NameIndex, NameIndex) {
    let teams = NameIndex::new(
        "team",
        [
            (T1.to_owned(), "Platform".to_owned()),
            (T2.to_owned(), "On-call".to_owned()),
            ("5f1e2d3c4b5a697887766556".to_owned(), "on-call".to_owned()),
        ],
    );
    let projects = NameIndex::new("project", [(P1.to_owned(), "Prod".to_owned())]);
    (teams, projects)
}

#[test]
fn resolution_turns_names_into_ids_or_the_row_into_an_invalid_one() {
    let text = format!(
        "email,teams,projects\n\
         a@example.com,platform,PROD:GROUP_READ_ONLY;{P1}:GROUP_OWNER\n\
         b@example.com,On-Call,\n\
         c@example.com,{T1},Staging:GROUP_OWNER\n\
         d@example.com,5f1e2d3c4b5a69788776655g,\n"
    );
    let mut r = read(&text);
    assert_eq!(lines(&r.invalid), [5]);
    let (teams, projects) = directory();
    assert_eq!(resolve_names(&mut r, &teams, &projects), 2);
    assert_eq!(r.invitees.len(), 1);
    let a = &r.invitees[0];
    assert!(a.names.is_none());
    assert_eq!(a.team_ids, [T1]);
    assert_eq!(
        a.projects,
        [GroupRoleAssignment {
            group_id: P1.into(),
            roles: vec!["GROUP_OWNER".into(), "GROUP_READ_ONLY".into()],
        }]
    );
    assert_eq!(lines(&r.invalid), [3, 4, 5]);
    let ambiguous = &r.invalid[0].problems[0];
    assert_eq!(
        (ambiguous.column.as_str(), ambiguous.value.as_str()),
        ("teams", "On-Call")
    );
    assert!(ambiguous.message.contains(T2), "{ambiguous}");
    assert!(
        ambiguous.message.contains("5f1e2d3c4b5a697887766556"),
        "{ambiguous}"
    );
    let unknown = &r.invalid[1].problems[0];
    assert_eq!(
        (unknown.column.as_str(), unknown.value.as_str()),
        ("projects", "Staging")
    );
    assert!(unknown.message.starts_with("no project"), "{unknown}");
    assert_eq!(r.invalid[1].email.as_deref(), Some("c@example.com"));
}

// ----- rules ------------------------------------------------------------------------------------

const WORKDAY: &str = "Work Email,Department,Title,Cost Center,Roles\n\
                       ada@example.com,Engineering,Engineer,4100,\n\
                       bob@example.com,engineering ,Manager,4100,billing admin\n\
                       cy@example.com,Sales,Manager,4200,\n\
                       dee@example.com,Legal,Counsel,4300,\n";

fn ruled(rules: &str) -> RosterOptions {
    RosterOptions {
        rules: Some(Rules::parse(rules, "rules.toml").unwrap()),
        ..RosterOptions::default()
    }
}

const RULES: &str = r#"
[[rule]]
when = { Department = "Engineering" }
roles = ["ORG_MEMBER"]
teams = ["Platform", "5f1e2d3c4b5a697887766555"]

[[rule]]
name = "managers"
when = { Title = "manager", "Cost Center" = [4100, 4200] }
roles = ["ORG_GROUP_CREATOR"]
projects = { "6a0b1c2d3e4f5a6b7c8d9e0f" = ["GROUP_READ_ONLY"] }
"#;

#[test]
fn rules_add_up_with_each_other_and_with_the_cells() {
    let r = with(ruled(RULES), WORKDAY.as_bytes());
    assert_eq!(r.columns.email.as_deref(), Some("Work Email"));
    assert_eq!(r.ignored_columns, Vec::<String>::new());
    let by_email = |e: &str| r.invitees.iter().find(|i| i.email == e).unwrap();

    let ada = by_email("ada@example.com");
    assert_eq!(ada.roles, [OrgRole::OrgMember]);
    assert!(!ada.roles_defaulted);
    assert_eq!(ada.team_ids, [T2]);
    assert_eq!(&*ada.names.as_deref().unwrap().teams[0].origin, "rule 1");
    assert_eq!(&ada.sources[..], ["rule 1 (Department = Engineering)"]);

    let bob = by_email("bob@example.com");
    assert_eq!(
        bob.roles,
        [
            OrgRole::OrgMember,
            OrgRole::OrgGroupCreator,
            OrgRole::OrgBillingAdmin
        ]
    );
    assert_eq!(bob.projects[0].group_id, P1);
    assert_eq!(
        &bob.sources[..],
        [
            "column \"Roles\"",
            "rule 1 (Department = Engineering)",
            "rule 2 \"managers\" (Title = manager, Cost Center = 4100|4200)"
        ]
    );

    let cy = by_email("cy@example.com");
    assert_eq!(cy.roles, [OrgRole::OrgGroupCreator]);

    // Matched by no rule: the default-role policy reads it as without rules.
    let dee = by_email("dee@example.com");
    assert_eq!(dee.roles, [OrgRole::OrgMember]);
    assert!(dee.roles_defaulted);
    assert_eq!(&dee.sources[..], ["--default-role"]);

    assert_eq!(r.rules.iter().map(|u| u.rows).collect::<Vec<_>>(), [2, 2]);
}

#[test]
fn rows_with_the_same_sources_share_one_list() {
    let r = with(ruled(RULES), WORKDAY.as_bytes());
    let plain = read("email\na@example.com\nb@example.com\n");
    assert!(Arc::ptr_eq(
        &plain.invitees[0].sources.0,
        &plain.invitees[1].sources.0
    ));
    let ada = &r.invitees[0];
    let again = with(ruled(RULES), WORKDAY.as_bytes());
    assert_eq!(ada.sources, again.invitees[0].sources);
}

#[test]
fn unmatched_rows_can_be_errors_or_skipped() {
    let error = format!("unmatched = \"error\"\n{RULES}");
    let r = with(ruled(&error), WORKDAY.as_bytes());
    assert_eq!(lines(&r.invalid), [5]);
    let problem = &r.invalid[0].problems[0];
    assert_eq!(
        (problem.column.as_str(), problem.value.as_str()),
        ("Department", "Legal")
    );
    assert!(
        problem.message.contains("no rule of rules.toml matches"),
        "{problem}"
    );
    assert!(problem.message.contains("Title = \"Counsel\""), "{problem}");

    let skip = format!("unmatched = \"skip\"\n{RULES}");
    let r = with(ruled(&skip), WORKDAY.as_bytes());
    assert_eq!((r.rows, r.filtered_out, r.invitees.len()), (3, 1, 3));
}

#[test]
fn a_rule_on_a_missing_column_is_a_file_error() {
    let options = ruled("[[rule]]\nwhen = { Dept = \"x\" }\nroles = \"member\"\n");
    let err = parse(WORKDAY.as_bytes(), &options).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("rule 1 of the rules file rules.toml names the column \"Dept\""),
        "{message}"
    );
}

#[test]
fn repeats_compare_names_too() {
    let text = "email,teams\na@example.com,Platform\na@example.com,PLATFORM\na@example.com,Other\n";
    let r = read(text);
    assert_eq!(r.duplicates.len(), 1);
    assert_eq!(lines(&r.invalid), [4]);
    assert!(
        r.invalid[0].problems[0]
            .message
            .contains("team or project names")
    );
}

// ----- streaming --------------------------------------------------------------------------------

#[test]
fn scan_hands_rows_over_in_file_order_and_counts_them() {
    let text = "email,roles,Site\n\
                ann@example.com,member,Paris\n\
                bad,member,Paris\n\
                bob@example.com,owner,Lyon\n\
                ANN@example.com,member,Paris\n\
                bob@example.com,member,Lyon\n";
    let mut seen = Vec::new();
    let summary = scan_from(
        text.as_bytes(),
        std::path::Path::new("people.csv"),
        &RosterOptions::default(),
        |row| {
            let kind = match &row {
                RowOutcome::Valid(_) => "valid",
                RowOutcome::Invalid(_) => "invalid",
                RowOutcome::Duplicate(_) => "duplicate",
            };
            seen.push((row.line(), kind));
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(
        seen,
        [
            (2, "valid"),
            (3, "invalid"),
            (4, "valid"),
            (5, "duplicate"),
            (6, "invalid")
        ]
    );
    assert_eq!(
        (
            summary.rows,
            summary.valid,
            summary.invalid,
            summary.duplicates
        ),
        (5, 2, 2, 1)
    );
    assert_eq!(summary.ignored_columns, ["Site"]);
    // `parse` is the same scan, collected.
    let roster = read(text);
    assert_eq!(roster.invitees.len(), summary.valid);
    assert_eq!(roster.invalid.len(), summary.invalid);
    assert_eq!(roster.duplicates.len(), summary.duplicates);
    assert_eq!(roster.columns, summary.columns);
}

#[test]
fn scan_stops_when_the_visitor_says_so() {
    let text = "email\na@example.com\nb@example.com\nc@example.com\n";
    let mut lines = Vec::new();
    let summary = scan_from(
        text.as_bytes(),
        std::path::Path::new("people.csv"),
        &RosterOptions::default(),
        |row| {
            lines.push(row.line());
            if lines.len() == 2 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    assert_eq!(lines, [2, 3]);
    assert_eq!(summary.rows, 2, "the summary counts the rows read");
}

#[test]
fn repeats_far_from_their_first_row_still_compare_grants() {
    // The index keeps prints, not rows: a repeat far from its first row still compares grants.
    let mut text = String::from("email,roles,teams\n");
    for i in 0..2_000 {
        text.push_str(&format!("p{i}@example.com,member,{T1}\n"));
    }
    text.push_str(&format!("P7@example.com,member,{T1}\n"));
    text.push_str(&format!("p8@example.com,member,{T2}\n"));
    let r = read(&text);
    assert_eq!(r.duplicates.len(), 1);
    assert_eq!(r.duplicates[0].first_line, 9);
    assert_eq!(lines(&r.invalid), [2_003]);
    assert!(
        r.invalid[0].problems[0]
            .message
            .contains("same person as line 10 but with different teams"),
        "{:?}",
        r.invalid
    );
}

#[test]
fn read_raw_gives_the_rows_a_run_reads_as_written() {
    let path = fixture("tests/fixtures/excel_cp1252.csv");
    let options = RosterOptions {
        filters: vec!["Service=ingénierie".parse().unwrap()],
        ..encoded("windows-1252")
    };
    let raw = read_raw(&path, &options).unwrap();
    assert_eq!(raw.header, ["Nom", "Prénom", "E-mail", "Rôle", "Service"]);
    assert_eq!(raw.email_index, 2);
    assert_eq!((raw.delimiter, raw.encoding.name()), (b';', "windows-1252"));
    let names: Vec<&str> = raw.rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["René", "José", "Anaïs"]);
    // Without the encoding, the file is refused as `run` refuses it.
    let err = read_raw(&path, &RosterOptions::default()).unwrap_err();
    assert!(matches!(err, RosterError::NotUtf8 { line: 1 }), "{err:?}");
}
