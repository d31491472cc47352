//! The CSV input options shared by `run`, `validate` and `export` ([`InputArgs`]) turned into
//! [`RosterOptions`], their record in `runs.options`, and the organization's lists of teams and
//! projects that turn names into ids before anything is sent ([`Directory`]).

use serde_json::json;

use crate::atlas::client::AtlasClient;
use crate::atlas::directory::{GROUPS_ENDPOINT, TEAMS_ENDPOINT};
use crate::atlas::error::{CallError, ErrorClass};
use crate::cli::InputArgs;
use crate::exit::Failure;
use crate::roster::{
    self, ColumnMap, InvalidRow, Invitee, NameIndex, NameSet, RosterOptions, Rules,
};

impl InputArgs {
    /// The reader's options; reads and checks the rules file (exit 2 when it is unusable).
    pub fn roster_options(&self) -> Result<RosterOptions, Failure> {
        let rules = match &self.rules {
            Some(path) => Some(Rules::load(path).map_err(Failure::usage)?),
            None => None,
        };
        Ok(RosterOptions {
            default_role: self.default_role,
            delimiter: self.delimiter,
            encoding: self.encoding,
            columns: ColumnMap {
                email: self.email_column.clone(),
                roles: self.roles_column.clone(),
                teams: self.teams_column.clone(),
                projects: self.projects_column.clone(),
            },
            filters: self.filters.clone(),
            rules,
        })
    }

    /// The options as recorded in `runs.options` (only those given, besides the default role,
    /// which is recorded at the top level for compatibility).
    pub fn to_json(&self) -> serde_json::Value {
        let mut input = serde_json::Map::new();
        let mut put = |key: &str, value: serde_json::Value| {
            input.insert(key.to_owned(), value);
        };
        if let Some(encoding) = self.encoding {
            put("encoding", json!(encoding.name()));
        }
        if let Some(delimiter) = self.delimiter {
            put("delimiter", json!(char::from(delimiter).to_string()));
        }
        for (key, column) in [
            ("email_column", &self.email_column),
            ("roles_column", &self.roles_column),
            ("teams_column", &self.teams_column),
            ("projects_column", &self.projects_column),
        ] {
            if let Some(column) = column {
                put(key, json!(column));
            }
        }
        if !self.filters.is_empty() {
            let filters: Vec<String> = self
                .filters
                .iter()
                .map(|f| format!("{}={}", f.column, f.value))
                .collect();
            put("where", json!(filters));
        }
        if let Some(rules) = &self.rules {
            put("rules", json!(rules.display().to_string()));
            // The file may change between runs; its digest says which version a run used.
            if let Ok(digest) = crate::util::sha256_file(rules) {
                put("rules_sha256", json!(digest));
            }
        }
        serde_json::Value::Object(input)
    }
}

/// The organization's teams and projects by name: what turns the names of a file into ids.
#[derive(Debug, Clone)]
pub(super) struct Directory {
    teams: NameIndex,
    projects: NameIndex,
}

impl Default for Directory {
    /// A directory that knows no team and no project: every name fails.
    fn default() -> Directory {
        Directory {
            teams: NameIndex::new("team", []),
            projects: NameIndex::new("project", []),
        }
    }
}

impl Directory {
    /// A valid row with its names replaced by ids, or invalid when one is unknown or ambiguous.
    pub(super) fn resolve(&self, invitee: Invitee) -> Result<Invitee, InvalidRow> {
        roster::resolve_invitee(invitee, &self.teams, &self.projects)
    }

    /// Whether every name of `names` resolves, so that no row naming them becomes invalid.
    pub(super) fn resolves_all(&self, names: &NameSet) -> bool {
        names.all_resolve(&self.teams, &self.projects)
    }
}

/// Reads the lists `names` needs, one listing of each kind. Listing failures stop the run before
/// anything is sent: refused credentials exit 3, anything else 2.
pub(super) async fn read_directory(
    names: &NameSet,
    client: &AtlasClient,
) -> Result<Directory, Failure> {
    let (teams_needed, projects_needed) = names.needed();
    let org = client.org_id().to_owned();
    let fail = |endpoint: &str, what: &str, error: CallError| {
        let error = anyhow::Error::new(error).context(format!(
            "failed to list the {what} of organization {org} ({endpoint}) to resolve the names \
             in the file; nothing was sent"
        ));
        if error
            .downcast_ref::<CallError>()
            .is_some_and(|e| e.class() == ErrorClass::Auth)
        {
            Failure::aborted(error)
        } else {
            Failure::usage(error)
        }
    };
    let teams = if teams_needed {
        client
            .org_teams()
            .await
            .map_err(|e| fail(TEAMS_ENDPOINT, "teams", e))?
    } else {
        Vec::new()
    };
    let projects = if projects_needed {
        client
            .org_projects()
            .await
            .map_err(|e| fail(GROUPS_ENDPOINT, "projects", e))?
    } else {
        Vec::new()
    };
    Ok(Directory {
        teams: NameIndex::new("team", teams),
        projects: NameIndex::new("project", projects),
    })
}

/// Context for a rules file or credentials problem met while preparing name resolution.
pub(super) fn needs_credentials(error: anyhow::Error) -> Failure {
    Failure::usage(error.context(
        "the file names teams or projects, and turning names into ids reads them from Atlas, \
         even with --dry-run",
    ))
}

/// The directory for `run` (and `--dry-run`, which may read Atlas but sends nothing): read with
/// the run's credentials, or for a dry run those of the environment or the Atlas CLI profile. With `--simulate
/// --dry-run` no simulator runs, and the built-in one knows no teams or projects anyway: the
/// directory is empty. A file without names needs no directory and reads nothing.
pub(super) async fn directory_for_run(
    names: &NameSet,
    args: &crate::cli::RunArgs,
    org_id: &str,
    base_url: &str,
    credentials: Option<&crate::atlas::auth::Credentials>,
) -> Result<Directory, Failure> {
    if names.is_empty() {
        return Ok(Directory::default());
    }
    let credentials = match credentials {
        Some(credentials) => credentials.clone(),
        None if args.simulate => return Ok(Directory::default()),
        None => super::settings::resolve(&args.atlas)?
            .credentials
            .map(|c| c.value)
            .map_err(|e| needs_credentials(anyhow::Error::new(e)))?,
    };
    let client = AtlasClient::new(&crate::atlas::client::ClientConfig {
        base_url: base_url.to_owned(),
        org_id: org_id.to_owned(),
        api: args.atlas.api.into(),
        credentials,
        timeout: args.send.timeout,
        concurrency: 1,
        envelope: args.envelope,
    })
    .map_err(Failure::usage)?;
    read_directory(names, &client).await
}
