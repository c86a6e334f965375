//! OpenAPI component names for the wire types that are HTTP bodies (feature `openapi`).
//!
//! Message schemas live only in `proto-schemas/json/`: each component here is a bare `$ref`
//! into those files, so the OpenAPI document names a body (`body = Job`) without copying its
//! schema. One list says, per type, its component name and where its schema lives.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Ref, Schema};

use crate::admin::{
    Access, Agent, CreateAccess, CreateJob, Decision, HistoryEntry, Job, LinksSaved, Page, PlanPreview, RegistrationToken, SafeguardPolicy,
    Session, SessionChange, TenantSettings, User,
};
use crate::agent::{AgentJob, CommitResponse, OfferSnapshot, RegisterRequest, RegisterResponse, RotateKey, SnapshotState, SyncAdvice};
use crate::insight::{Explanation, Structure};
use crate::manifest::{Manifest, Watermark};
use crate::problem::Problem;
use crate::records::Record;

/// A page of jobs (`Page<Job>`): a generic type takes its component name from an alias.
pub type JobPage = Page<Job>;
/// A page of the access catalogue.
pub type AccessPage = Page<Access>;
/// A page of users.
pub type UserPage = Page<User>;
/// A page of a job's sessions.
pub type SessionPage = Page<Session>;
/// A page of a session's itemised changes.
pub type SessionChangePage = Page<SessionChange>;
/// A page of one user's history.
pub type HistoryPage = Page<HistoryEntry>;
/// A page of agents.
pub type AgentPage = Page<Agent>;

/// `Vec<LinkInput>`, the body of `PUT /api/v1/jobs/{job}/links`. Stands in for the `Vec`,
/// which cannot carry a component name of its own; never built.
#[derive(Debug)]
pub enum LinkInputs {}
/// `Vec<Link>`, a job's links as `GET /api/v1/jobs/{job}/links` answers them; never built.
#[derive(Debug)]
pub enum Links {}
/// The claims of the manifest JWT (`OfferSnapshot.manifest_token`); their Rust type is
/// `roster_snapshot::token::ManifestClaims`, outside this crate. Never built.
#[derive(Debug)]
pub enum ManifestClaims {}
/// The claims of every agent request token; their Rust type is
/// `roster_snapshot::token::RequestClaims`, outside this crate. Never built.
#[derive(Debug)]
pub enum RequestTokenClaims {}

/// Gives each type its component (`name()`) and its schema, a `$ref` into `json/`, and lists
/// them all in [`components`].
macro_rules! components {
    ($($ty:ty => $name:literal, $target:literal;)*) => {
        $(
            impl utoipa::PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    RefOr::Ref(Ref::new($target))
                }
            }

            impl utoipa::ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed($name)
                }
            }
        )*

        /// Every component of `components.schemas`: its name and its `$ref` into `json/`.
        pub fn components() -> Vec<(String, RefOr<Schema>)> {
            vec![$(($name.to_owned(), RefOr::Ref(Ref::new($target)))),*]
        }
    };
}

components! {
    Problem => "Problem", "json/problem.schema.json";
    Record => "Record", "json/record.schema.json";
    Manifest => "Manifest", "json/manifest.schema.json";
    Watermark => "Watermark", "json/manifest.schema.json#/$defs/watermark";
    ManifestClaims => "ManifestClaims", "json/manifest-claims.schema.json";
    RequestTokenClaims => "RequestTokenClaims", "json/request-token-claims.schema.json";
    RegisterRequest => "RegisterRequest", "json/agent-api.schema.json#/$defs/registerRequest";
    RegisterResponse => "RegisterResponse", "json/agent-api.schema.json#/$defs/registerResponse";
    AgentJob => "AgentJob", "json/agent-api.schema.json#/$defs/agentJob";
    SyncAdvice => "SyncAdvice", "json/agent-api.schema.json#/$defs/syncAdvice";
    OfferSnapshot => "OfferSnapshot", "json/agent-api.schema.json#/$defs/offerSnapshot";
    SnapshotState => "SnapshotState", "json/agent-api.schema.json#/$defs/snapshotState";
    CommitResponse => "CommitResponse", "json/agent-api.schema.json#/$defs/commitResponse";
    RotateKey => "RotateKey", "json/agent-api.schema.json#/$defs/rotateKey";
    CreateJob => "CreateJob", "json/admin-api.schema.json#/$defs/createJob";
    Job => "Job", "json/admin-api.schema.json#/$defs/job";
    SafeguardPolicy => "SafeguardPolicy", "json/admin-api.schema.json#/$defs/safeguardPolicy";
    JobPage => "JobPage", "json/admin-api.schema.json#/$defs/jobPage";
    RegistrationToken => "RegistrationToken", "json/admin-api.schema.json#/$defs/registrationToken";
    CreateAccess => "CreateAccess", "json/admin-api.schema.json#/$defs/createAccess";
    Access => "Access", "json/admin-api.schema.json#/$defs/access";
    AccessPage => "AccessPage", "json/admin-api.schema.json#/$defs/accessPage";
    LinkInputs => "LinkInputs", "json/admin-api.schema.json#/$defs/linkInputs";
    Links => "Links", "json/admin-api.schema.json#/$defs/links";
    LinksSaved => "LinksSaved", "json/admin-api.schema.json#/$defs/linksSaved";
    UserPage => "UserPage", "json/admin-api.schema.json#/$defs/userPage";
    Session => "Session", "json/admin-api.schema.json#/$defs/session";
    SessionPage => "SessionPage", "json/admin-api.schema.json#/$defs/sessionPage";
    SessionChangePage => "SessionChangePage", "json/admin-api.schema.json#/$defs/sessionChangePage";
    PlanPreview => "PlanPreview", "json/admin-api.schema.json#/$defs/planPreview";
    Decision => "Decision", "json/admin-api.schema.json#/$defs/decision";
    HistoryPage => "HistoryPage", "json/admin-api.schema.json#/$defs/historyPage";
    TenantSettings => "TenantSettings", "json/admin-api.schema.json#/$defs/tenantSettings";
    AgentPage => "AgentPage", "json/admin-api.schema.json#/$defs/agentPage";
    Structure => "Structure", "json/insight.schema.json#/$defs/structure";
    Explanation => "Explanation", "json/insight.schema.json#/$defs/explanation";
}
