//! A job's Linking tab: "Load AD structure" (asks the agent for fresh
//! data), the OU tree and groups with their member counts and a search,
//! and one group picker per access. Saving first shows who would gain and
//! lose which access; only the confirmation saves.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use roster_proto::AccessId;
use roster_proto::admin::{Access, AccessDelta, LinkInput, LinksPreview};
use roster_proto::insight::{GroupSummary, OuNode, Structure};
use serde::Deserialize;

use super::jobs::{JobFrame, Tab, tenant_job};
use super::view::{Chrome, Section};
use super::{Failure, SignedIn, paths, render};
use crate::error::AppError;
use crate::http::admin::MAX_LIMIT;
use crate::service;
use crate::state::AppState;
use crate::store;

/// Deepest indentation the OU tree draws (deeper OUs line up with it).
const MAX_DEPTH: usize = 8;
/// Groups the structure's table lists, at most (the search narrows them).
const MAX_TABLE_GROUPS: usize = 200;
/// Groups the pickers suggest at once, at most: the page offers the first
/// of them, and typing in a picker asks for those matching what was typed.
const MAX_SUGGESTIONS: usize = 50;

/// An OU as a row of the flattened tree.
struct OuRow {
    name: String,
    dn: String,
    users: u64,
    users_below: u64,
    depth: usize,
}

fn flatten(nodes: &[OuNode], depth: usize, rows: &mut Vec<OuRow>) {
    for node in nodes {
        rows.push(OuRow {
            name: node.name.clone(),
            dn: node.dn.clone(),
            users: node.users,
            users_below: node.users_below,
            depth: depth.min(MAX_DEPTH),
        });
        flatten(&node.children, depth + 1, rows);
    }
}

/// One access and the groups linked to it: one picker per linked group
/// and one more, empty, to add a group.
struct AccessPicker {
    access: Access,
    chosen: Vec<String>,
}

impl AccessPicker {
    fn field(&self) -> String {
        format!("access-{}", self.access.id)
    }
}

#[derive(Template)]
#[template(path = "job_linking.html")]
struct Linking {
    chrome: Chrome,
    frame: JobFrame,
    /// `None`: no snapshot yet, so no structure to show.
    structure: Option<Structure>,
    structure_error: Option<String>,
    ous: Vec<OuRow>,
    /// The first groups that match the search, for the table.
    groups: Vec<GroupSummary>,
    /// How many groups match the search in all.
    groups_matching: usize,
    /// The pickers' shared suggestions.
    suggestions: Vec<GroupSummary>,
    pickers: Vec<AccessPicker>,
    search: String,
    notice: Option<String>,
    refresh: String,
    save: String,
    suggest: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct LinkingQuery {
    search: Option<String>,
    done: Option<String>,
}

async fn pickers(state: &AppState, signed: &SignedIn, chosen: &[(AccessId, String)]) -> Result<Vec<AccessPicker>, Failure> {
    let (accesses, _) = store::jobs::list_accesses(&state.db, signed.caller.tenant, MAX_LIMIT, None).await?;
    Ok(accesses
        .into_iter()
        .map(|access| {
            let chosen = chosen.iter().filter(|(id, _)| *id == access.id).map(|(_, group)| group.clone()).collect();
            AccessPicker { access, chosen }
        })
        .collect())
}

pub(super) async fn page(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    Query(query): Query<LinkingQuery>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let links = {
        let mut conn = state.db.pool.acquire().await.map_err(AppError::from)?;
        store::jobs::get_links(&mut conn, job.id).await?
    };
    let chosen: Vec<_> = links.iter().map(|l| (l.access_id, l.group.clone())).collect();
    let pickers = pickers(&state, &signed, &chosen).await?;
    let search = query.search.unwrap_or_default();
    let search_term = Some(search.trim().to_owned()).filter(|s| !s.is_empty());
    let (mut structure, structure_error) = match crate::http::insight::structure_of(&state, job.clone(), search_term).await {
        Ok(structure) => (Some(structure), None),
        Err(error @ (AppError::Session(_) | AppError::Import(_))) => (None, Some(error.detail())),
        Err(other) => return Err(other.into()),
    };
    let mut ous = Vec::new();
    if let Some(structure) = &structure {
        flatten(&structure.ous, 0, &mut ous);
    }
    let matching = structure.as_mut().map(|s| std::mem::take(&mut s.groups)).unwrap_or_default();
    let suggestions = matching.iter().take(MAX_SUGGESTIONS).cloned().collect();
    let groups_matching = matching.len();
    let mut groups = matching;
    groups.truncate(MAX_TABLE_GROUPS);
    let notice = match query.done.as_deref() {
        Some("refresh") => {
            Some("The agent was asked for fresh data: reload this page in a moment to see the structure as AD has it now.".to_owned())
        }
        Some("saved") => Some(
            "Links saved. They take effect at the next import: use \"Perform import\" in the Sessions tab to apply them now.".to_owned(),
        ),
        _ => None,
    };
    render(&Linking {
        chrome: Chrome::new(&signed, Section::Jobs),
        refresh: paths::job_structure_refresh(job.id),
        save: paths::job_links(job.id),
        suggest: paths::job_group_suggestions(job.id),
        frame: JobFrame { job, tab: Tab::Linking },
        structure,
        structure_error,
        ous,
        groups,
        groups_matching,
        suggestions,
        pickers,
        search,
        notice,
    })
}

/// The pickers' suggestions for what is typed in one of them: the first
/// groups whose name or DN holds it, as `<option>`s of their shared
/// `<datalist>` (htmx asks as the admin types).
#[derive(Template)]
#[template(path = "_group_options.html")]
struct GroupOptions {
    suggestions: Vec<GroupSummary>,
}

/// `GET` with the picker's own field (`access-<id>=typed`) or `q=typed`.
pub(super) async fn group_suggestions(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    Query(fields): Query<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    let typed = fields
        .iter()
        .find(|(name, _)| name == "q" || name.starts_with("access-"))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty());
    let suggestions = match crate::http::insight::structure_of(&state, job, typed).await {
        Ok(structure) => structure.groups.into_iter().take(MAX_SUGGESTIONS).collect(),
        // No snapshot yet: nothing to suggest (the page says why).
        Err(AppError::Session(_) | AppError::Import(_)) => Vec::new(),
        Err(other) => return Err(other.into()),
    };
    render(&GroupOptions { suggestions })
}

pub(super) async fn refresh_structure(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    service::commands::refresh_structure(&state.db, &state.commands, &signed.caller, &job).await?;
    Ok(Redirect::to(&format!("{}?done=refresh", paths::job_linking(job.id))).into_response())
}

/// The links a Linking form sends: `access-<id>` fields, each a group DN
/// or objectGUID (empty: none), in the order sent.
fn links_of(fields: &[(String, String)]) -> Vec<LinkInput> {
    fields
        .iter()
        .filter_map(|(name, group)| {
            let access_id = name.strip_prefix("access-")?.parse().ok()?;
            let group = group.trim();
            (!group.is_empty()).then(|| LinkInput { group: group.to_owned(), access_id })
        })
        .collect()
}

/// A gain or loss as the confirmation lists it.
struct DeltaRow {
    access: String,
    users: u64,
    usernames: String,
}

fn rows(deltas: &[AccessDelta]) -> Vec<DeltaRow> {
    deltas
        .iter()
        .map(|d| {
            let more = d.users.saturating_sub(d.usernames.len() as u64);
            let mut names = d.usernames.join(", ");
            if more > 0 {
                names.push_str(&format!(" and {more} more"));
            }
            DeltaRow { access: d.access.name.clone(), users: d.users, usernames: names }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "job_links_confirm.html")]
struct Confirm {
    chrome: Chrome,
    frame: JobFrame,
    links: Vec<(String, String, String)>,
    gains: Vec<DeltaRow>,
    losses: Vec<DeltaRow>,
    preview: LinksPreview,
    picture: String,
    save: String,
    error: Option<String>,
}

pub(super) async fn save(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(job): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let job = tenant_job(&state, &signed, &job).await?;
    signed.caller.may(roster_proto::admin::AdminRole::Admin)?;
    let links = links_of(&fields);
    let confirmed = fields.iter().any(|(name, value)| name == "step" && value == "save");
    if confirmed {
        service::links::replace_links(&state.db, &signed.caller, &job, &links).await?;
        return Ok(Redirect::to(&format!("{}?done=saved", paths::job_linking(job.id))).into_response());
    }
    let (preview, error) = match service::links::preview(&state.db, &signed.caller, &job, &links).await {
        Ok(preview) => (preview, None),
        Err(error @ AppError::Links(_)) => {
            (LinksPreview { gains: vec![], losses: vec![], counts: Default::default(), notes: vec![] }, Some(error.detail()))
        }
        Err(other) => return Err(other.into()),
    };
    let (accesses, _) = store::jobs::list_accesses(&state.db, signed.caller.tenant, MAX_LIMIT, None).await?;
    let name_of = |id: AccessId| accesses.iter().find(|a| a.id == id).map_or_else(|| id.to_string(), |a| a.name.clone());
    let mut per_access: Vec<roster_chart::AccessChange> = Vec::new();
    for (delta, gain) in preview.gains.iter().map(|d| (d, true)).chain(preview.losses.iter().map(|d| (d, false))) {
        let entry = match per_access.iter_mut().find(|c| c.name == delta.access.name) {
            Some(entry) => entry,
            None => {
                per_access.push(roster_chart::AccessChange { name: delta.access.name.clone(), gains: 0, losses: 0 });
                per_access.last_mut().ok_or(AppError::Template("no row".into()))?
            }
        };
        if gain { entry.gains += delta.users } else { entry.losses += delta.users }
    }
    let picture = roster_chart::access_changes_chart(&roster_chart::AccessChangesChart {
        id_prefix: format!("links-{}", job.id),
        title: "Who would gain and lose each access".to_owned(),
        accesses: per_access,
    });
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = Confirm {
        chrome: Chrome::new(&signed, Section::Jobs),
        save: paths::job_links(job.id),
        frame: JobFrame { job, tab: Tab::Linking },
        links: links.iter().map(|l| (format!("access-{}", l.access_id), l.group.clone(), name_of(l.access_id))).collect(),
        gains: rows(&preview.gains),
        losses: rows(&preview.losses),
        preview,
        picture,
        error,
    };
    Ok((status, render(&page)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_its_links_by_access() {
        let access: AccessId = uuid::Uuid::from_u128(7).into();
        let fields = vec![
            (format!("access-{access}"), " CN=Staff,DC=corp ".to_owned()),
            (format!("access-{access}"), String::new()),
            ("step".to_owned(), "preview".to_owned()),
            ("access-not-an-id".to_owned(), "CN=X".to_owned()),
        ];
        assert_eq!(links_of(&fields), vec![LinkInput { group: "CN=Staff,DC=corp".into(), access_id: access }]);
    }
}
