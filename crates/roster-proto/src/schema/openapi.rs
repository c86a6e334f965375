//! The wire types as OpenAPI components (`utoipa::ToSchema`), for the
//! server's generated openapi.json: each is a `$ref` into
//! `proto-schemas/json/`, named as the registry in [`super::ENTRIES`] says,
//! so openapi.json never holds a copy of a message schema.

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};

use crate::admin::{Access, AdminToken, Agent, AuditEntry, HistoryEntry, Job, Page, Session, SessionChange, User};

/// The pages by their component names. utoipa names a generic body after
/// its arguments (`body = Page<Job>` would be `Page_Job`); an alias is a plain
/// path, so the body takes the name the registry gives `Page<Job>`.
pub type JobPage = Page<Job>;
pub type AccessPage = Page<Access>;
pub type UserPage = Page<User>;
pub type SessionPage = Page<Session>;
pub type SessionChangePage = Page<SessionChange>;
pub type HistoryPage = Page<HistoryEntry>;
pub type AgentPage = Page<Agent>;
pub type AdminTokenPage = Page<AdminToken>;
pub type AuditPage = Page<AuditEntry>;

/// Every component of openapi.json's `components.schemas`, from the
/// registry: its name and its `$ref` into `json/`.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    super::ENTRIES.iter().filter_map(|entry| Some((entry.component?.to_owned(), RefOr::Ref(Ref::new(entry.openapi_target()))))).collect()
}

/// The `$ref` of the component `name`: `json/admin-api.schema.json#/$defs/job`.
pub fn target(name: &str) -> String {
    super::component(name).map(super::Entry::openapi_target).unwrap_or_default()
}

/// The OpenAPI face of a type: the component `name`, a `$ref` to its file.
pub fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::new(target(name)))
}

/// `utoipa::PartialSchema` + `utoipa::ToSchema` for `$ty` as the component `$name`.
macro_rules! component {
    ($ty:ty, $name:literal) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::schema::openapi::reference($name)
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}
pub(crate) use component;
