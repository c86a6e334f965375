//! The top of the OpenAPI document (`proto-schemas/openapi.json`): info, tags, security
//! schemes and the reusable components. The operations come from the router itself (each
//! handler's `#[utoipa::path]`, registered with its route by `routes!`), so a route and its
//! documentation cannot drift; `crate::http::openapi()` assembles both.

use serde_json::{Value, json};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, PathItem, Ref, RefOr, Required};
use utoipa::{Modify, PartialSchema, ToSchema};

/// The API's description, for readers of the document.
const DESCRIPTION: &str = "Two APIs on one server. The admin API (`/api/v1`) is called by a tenant's admins with a bearer admin token; every object is scoped to the token's tenant and other tenants' objects answer 404. The agent API (`/agent/v1`) is called by registered agents: every request except `register` carries a fresh EdDSA request token bound to its method and path. Every error body is `application/problem+json` (schema `Problem`) except where an operation says otherwise (a query string the framework cannot parse, an over-long chunk, an over-long body of approve or reject). A problem's `type` names its kind, `urn:roster:problem:<kind>`, one of those `Problem` lists, each always with the same status (e.g. `urn:roster:problem:delta-base-mismatch`, a 409 of the snapshot routes, see there); clients tell problems of one status apart by `type`, never by `detail`. A method a route does not accept answers 405 and an unknown path 404, both problem+json. Message schemas live in `json/*.schema.json` beside this file (JSON Schema 2020-12); `components.schemas` only points at them. JSON request bodies must be sent as `Content-Type: application/json` and are read exactly as their schemas say: an unknown member, `null` for an optional member, or an array where an object is expected answers 422 (problem `invalid-body`, naming the member); a whole number written with a fraction (`637.0`) counts as that integer. In answers, members the schemas mark optional are left out, never null, unless the schema says null.";

/// The document without its operations, which the router adds.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Roster API",
        version = "1",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "health", description = "Liveness."),
        (name = "admin", description = "Admin API, bearer admin token."),
        (name = "agent", description = "Agent API, EdDSA request tokens."),
    ),
    security(("adminToken" = [])),
    components(responses(
        responses::BadRequest,
        responses::BadQuery,
        responses::BadHeader,
        responses::Unauthorized,
        responses::NotFound,
        responses::Conflict,
        responses::Fenced,
        responses::Unprocessable,
        responses::Internal,
        responses::Unavailable,
        responses::TooManyRequests,
        responses::PayloadTooLarge,
    )),
    modifiers(&TopLevel),
)]
pub(crate) struct Document;

/// What `#[openapi]` cannot say: `info.summary`, `jsonSchemaDialect`, the security schemes,
/// and the component schemas and parameters.
#[derive(Debug)]
struct TopLevel;

impl Modify for TopLevel {
    fn modify(&self, openapi: &mut OpenApi) {
        // utoipa's `Info` has no `summary` (OpenAPI 3.1's Info Object has): a flattened member.
        let summary = [("summary", json!("Admin API and agent API of the Roster Active Directory connector."))];
        openapi.info.extensions = Some(Extensions::from_iter(summary));
        openapi.json_schema_dialect = Some("https://json-schema.org/draft/2020-12/schema".to_owned());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert("adminToken".to_owned(), bearer(None, ADMIN_TOKEN).into());
        components.security_schemes.insert("agentRequestToken".to_owned(), bearer(Some("JWT"), AGENT_REQUEST_TOKEN).into());
        components.schemas.extend(roster_proto::schema::openapi::components());
        components.parameters.extend(params::components().into_iter().map(|(name, parameter)| (name.to_owned(), parameter.into())));
    }
}

const ADMIN_TOKEN: &str =
    "`Authorization: Bearer <admin token>`: the tenant's admin token as `roster-server tenant create` printed it (`rst_admin_...`).";
const AGENT_REQUEST_TOKEN: &str = "`Authorization: Bearer <JWT>`: a compact JWS, header `{\"alg\": \"EdDSA\", \"typ\": \"JWT\"}`, signed with the agent's registered Ed25519 key, whose claims are `RequestTokenClaims` (json/request-token-claims.schema.json): `iss` = agent id, `aud` = the server's audience, `iat`, `exp` at most 300 s after `iat`, a unique `jti`, `htm` = the HTTP method, `htu` = the request path. A fresh token is signed for every request. Each token is accepted once: its `jti` is remembered until the token expires, and a second use answers 401, even for the same request. A revoked agent's tokens all answer 401.";

fn bearer(format: Option<&str>, description: &str) -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.bearer_format = format.map(str::to_owned);
    http.description = Some(description.to_owned());
    SecurityScheme::Http(http)
}

/// What the path macros cannot say, applied once the router has added the operations:
/// parameters that are components become `$ref`s (path parameters on the path item, as
/// every operation of a path shares them), and whether a body is required where its type
/// does not tell (see [`BODY_REQUIRED`]).
#[derive(Debug)]
pub(crate) struct Operations;

/// Bodies whose `required` the macro cannot derive, by operationId: a chunk is raw bytes with
/// no schema (so no type to say it), and approve, reject and start an import take an optional
/// body (an `Option` would also allow `null` in the schema, which the examples' check refuses).
const BODY_REQUIRED: &[(&str, Required)] = &[
    ("putChunk", Required::True),
    ("approveSession", Required::False),
    ("rejectSession", Required::False),
    ("startImport", Required::False),
];

impl Modify for Operations {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = params::components();
        for item in openapi.paths.paths.values_mut() {
            refer_to_parameter_components(item, &components);
            for operation in operations(item) {
                let required = BODY_REQUIRED.iter().find(|(id, _)| operation.operation_id.as_deref() == Some(*id));
                if let (Some((_, required)), Some(RefOr::T(body))) = (required, operation.request_body.as_mut()) {
                    body.required = Some(required.clone());
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.options, &mut item.head, &mut item.patch, &mut item.trace]
        .into_iter()
        .filter_map(Option::as_mut)
}

fn refer_to_parameter_components(item: &mut PathItem, components: &[(&str, Parameter)]) {
    let component_of = |parameter: &Parameter| components.iter().find(|(_, c)| c == parameter).map(|(name, _)| *name);
    let mut shared: Option<Vec<&str>> = None;
    for operation in operations(item) {
        let mut own = Vec::new();
        let mut in_path = Vec::new();
        for parameter in operation.parameters.take().into_iter().flatten() {
            match &parameter {
                RefOr::T(p) if p.parameter_in == ParameterIn::Path && component_of(p).is_some() => {
                    in_path.extend(component_of(p));
                }
                RefOr::T(p) => match component_of(p) {
                    Some(name) => own.push(RefOr::Ref(parameter_ref(name))),
                    None => own.push(parameter),
                },
                RefOr::Ref(_) => own.push(parameter),
            }
        }
        operation.parameters = (!own.is_empty()).then_some(own);
        // Every operation of one path has the same path parameters: its template's.
        shared = Some(in_path);
    }
    item.parameters =
        shared.filter(|names| !names.is_empty()).map(|names| names.into_iter().map(|n| RefOr::Ref(parameter_ref(n))).collect());
}

fn parameter_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/parameters/{name}"))
}

/// `GET /health`'s body: the text `ok`.
#[derive(Debug)]
pub(crate) struct HealthText;

impl PartialSchema for HealthText {
    fn schema() -> RefOr<Schema> {
        constant(Type::String, json!("ok")).into()
    }
}

impl ToSchema for HealthText {}

/// A schema of `kind` that allows only `value` (utoipa's schema has no `const`: a flattened member).
fn constant(kind: Type, value: Value) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(kind).build();
    object.extensions = Some(Extensions::from_iter([("const", value)]));
    Schema::Object(object)
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer)
}

/// The reusable parameters (`components.parameters`). Handlers name them in `params(...)`;
/// [`Operations`] turns each into a `$ref` to its component.
pub(crate) mod params {
    use super::*;
    use crate::http::admin::{DEFAULT_LIMIT, MAX_LIMIT};
    use roster_proto::admin::MAX_PLAN_CHANGES;
    use roster_proto::agent::MAX_COMMAND_WAIT_SECS;

    macro_rules! parameters {
        ($($ty:ident => $component:literal, $build:expr;)*) => {
            $(
                #[doc = concat!("The `", $component, "` parameter component.")]
                #[derive(Debug)]
                pub(crate) struct $ty;

                impl utoipa::IntoParams for $ty {
                    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                        vec![$build]
                    }
                }
            )*

            /// Every parameter component, by name.
            pub(super) fn components() -> Vec<(&'static str, Parameter)> {
                vec![$(($component, $build)),*]
            }
        };
    }

    parameters! {
        Job => "job", uuid_in_path("job", "The job's id. A value that is not a UUID answers 404.");
        SessionId => "sessionId", uuid_in_path("id", "The session's id. A value that is not a UUID answers 404.");
        UserId => "userId", uuid_in_path("id", "The user's id (`User.id`). A value that is not a UUID, or another tenant's user, answers 404.");
        SnapshotId => "snapshotId", uuid_in_path("id", "The snapshot's id (`Manifest.snapshot_id`). A value that is not a UUID, or another agent's snapshot, answers 404.");
        ChunkIndex => "chunkIndex", parameter(
            "index",
            ParameterIn::Path,
            "The chunk's `index` in the manifest, in decimal. Anything else, or an index the manifest does not name, answers 404.",
            integer().minimum(Some(0)).maximum(Some(u32::MAX)),
        );
        Limit => "limit", parameter(
            "limit",
            ParameterIn::Query,
            &format!("Page size, 1..={MAX_LIMIT}; default {DEFAULT_LIMIT}."),
            integer().minimum(Some(1)).maximum(Some(MAX_LIMIT)).default(Some(json!(DEFAULT_LIMIT))),
        );
        Cursor => "cursor", parameter(
            "cursor",
            ParameterIn::Query,
            "The `next_cursor` of the previous page, as this API returned it (opaque; base64url without padding). Any other value answers 400.",
            string().pattern(Some("^[A-Za-z0-9_-]+$")),
        );
        PlanLimit => "planLimit", parameter(
            "limit",
            ParameterIn::Query,
            &format!("How many changes to list, 0..={MAX_PLAN_CHANGES}; default {DEFAULT_LIMIT}. `total_changes` counts them all."),
            integer().minimum(Some(0)).maximum(Some(MAX_PLAN_CHANGES)).default(Some(json!(DEFAULT_LIMIT))),
        );
        StructureSearch => "structureSearch", parameter(
            "search",
            ParameterIn::Query,
            "A case-insensitive text (trimmed; blank means none): only the groups whose name or DN contains it, and the OUs whose name or DN contains it with their ancestors, are listed; the counts stay unfiltered.",
            string(),
        );
        ExplainUser => "explainUser", explain_user();
        UserJob => "userJob", uuid_in_query("job", "Only the users of this job. An unknown or malformed id answers 404.");
        AgentId => "agentId", uuid_in_path("id", "The agent's id. A value that is not a UUID, or another tenant's agent, answers 404.");
        AccessId => "accessId", uuid_in_path("id", "The access's id. A value that is not a UUID, or another tenant's access, answers 404.");
        AdminTokenId => "adminTokenId", uuid_in_path("id", "The admin token's id (`AdminToken.id`), never its value. A value that is not a UUID, or another tenant's token, answers 404.");
        AgentJob => "agentJob", uuid_in_query("job", "Only the agents of this job. An unknown or malformed id answers 404.");
        CommandId => "commandId", uuid_in_path("id", "The command's id (`Command.id`). A value that is not a UUID, or a command not delivered to the calling agent, answers 404.");
        FencingToken => "fencingToken", parameter(
            "Roster-Fencing-Token",
            ParameterIn::Header,
            "The fencing token of the sender's lease of its job (`Lease.fencing_token` of `POST /agent/v1/lease`), in decimal. Without it the request is taken only while no agent of the job ever held the lease or the sender holds it; with an older token, or one the sender's lease never had, it is refused (409 `urn:roster:problem:fenced`). A value that is not a positive decimal integer answers 400.",
            integer().minimum(Some(1)),
        );
        CommandWait => "commandWait", parameter(
            "wait",
            ParameterIn::Query,
            &format!("Seconds to hold the request open while there is no command, 0..={MAX_COMMAND_WAIT_SECS}; default 0 (answer at once)."),
            integer().minimum(Some(0)).maximum(Some(MAX_COMMAND_WAIT_SECS)).default(Some(json!(0))),
        );
    }

    fn parameter(name: &str, location: ParameterIn, description: &str, schema: ObjectBuilder) -> Parameter {
        let required = if location == ParameterIn::Path { Required::True } else { Required::False };
        ParameterBuilder::new()
            .name(name)
            .parameter_in(location)
            .required(required)
            .description(Some(description))
            .schema(Some(schema))
            .build()
    }

    fn uuid() -> ObjectBuilder {
        string().format(Some(SchemaFormat::Custom("uuid".to_owned())))
    }

    fn uuid_in_path(name: &str, description: &str) -> Parameter {
        parameter(name, ParameterIn::Path, description, uuid())
    }

    fn uuid_in_query(name: &str, description: &str) -> Parameter {
        parameter(name, ParameterIn::Query, description, uuid())
    }

    fn explain_user() -> Parameter {
        let mut user = parameter(
            "user",
            ParameterIn::Query,
            "The AD user to explain: its `sAMAccountName` (case-insensitive), its objectGUID (or `mS-DS-ConsistencyGuid`), or its DN.",
            string().pattern(Some("\\S")),
        );
        user.required = Required::True;
        // utoipa's parameter has one `example`, not named `examples`: a flattened member.
        let examples = json!({
            "username": {"value": "ann"},
            "guid": {"value": "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90"},
            "dn": {"value": "CN=Ann Berg,OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test"},
        });
        user.extensions = Some(Extensions::from_iter([("examples", examples)]));
        user
    }
}

/// The reusable responses (`components.responses`), and the one inline response the path
/// macros cannot spell (a header with a range).
pub(crate) mod responses {
    use super::*;
    use crate::http::admin::MAX_LIMIT;

    macro_rules! responses {
        ($($ty:ident => $build:expr;)*) => {
            $(
                #[doc = concat!("The `", stringify!($ty), "` response.")]
                #[derive(Debug)]
                pub(crate) struct $ty;

                impl<'r> utoipa::ToResponse<'r> for $ty {
                    fn response() -> (&'r str, RefOr<Response>) {
                        (stringify!($ty), $build.into())
                    }
                }
            )*
        };
    }

    responses! {
        BadRequest => problem("The body is not JSON, or is not `Content-Type: application/json` (problem+json).").build();
        BadHeader => problem("The `Roster-Fencing-Token` header is not a positive decimal integer (`urn:roster:problem:malformed-header`).").build();
        BadQuery => problem(&format!("A query parameter is invalid: it does not parse, `limit` is outside 1..={MAX_LIMIT}, or `cursor` is not one this API returned.")).build();
        Unauthorized => problem("Missing, malformed, expired, revoked or unknown credentials. The `detail` is deliberately generic.")
            .header("WWW-Authenticate", header("Always `Bearer`.", constant(Type::String, json!("Bearer"))))
            .build();
        NotFound => problem("The object does not exist, belongs to another tenant (or another agent's job), or the path parameter is not a valid id.").build();
        Conflict => problem("Conflict (see the operation).").build();
        Fenced => problem("`urn:roster:problem:fenced`: the job's lease is held by another agent, or the `Roster-Fencing-Token` sent is older than the lease's newest grant (another agent took over) or was never granted; nothing is stored: ask for the lease again without the token (`POST /agent/v1/lease`) and stand by if it is another's.").build();
        Unprocessable => problem("The JSON is well-formed but does not fit the schema (wrong types, missing fields, unknown enum values), or breaks a rule the operation states.").build();
        Internal => problem("Internal error; the `detail` is opaque (the cause is logged).").build();
        Unavailable => problem("The database is out of reach; retry later.")
            .header("Retry-After", header("Seconds to wait; always 5.", constant(Type::Integer, json!(5))))
            .build();
        TooManyRequests => problem("The tenant's request rate is spent (per server process; default 50 per second with bursts of 500). Retry after `Retry-After` seconds.")
            .header("Retry-After", retry_after())
            .build();
        PayloadTooLarge => problem("The body is larger than the server accepts (`--max-json-body-bytes` for JSON, default 2 MiB).").build();
        RegisterRateLimited => problem("Too many registration attempts from this client address (`--register-requests-per-minute`, `--register-request-burst`); `Retry-After` says when to try again.")
            .header("Retry-After", retry_after())
            .build();
    }

    /// A problem+json answer.
    fn problem(description: &str) -> ResponseBuilder {
        let problem = RefOr::Ref(Ref::from_schema_name(roster_proto::problem::Problem::name()));
        ResponseBuilder::new().description(description).content("application/problem+json", Content::new(Some(problem)))
    }

    fn header(description: &str, schema: Schema) -> Header {
        let mut header = Header::new(schema);
        header.description = Some(description.to_owned());
        header
    }

    fn retry_after() -> Header {
        header("Seconds to wait.", integer().minimum(Some(1)).build().into())
    }
}

/// Example values that more than one operation shows.
pub(crate) mod examples {
    use serde_json::{Value, json};

    /// The 409 of the routes that read the job's directory state before there is one.
    pub(crate) fn no_snapshot() -> Value {
        json!({
            "type": "urn:roster:problem:no-directory-state",
            "title": "Conflict",
            "status": 409,
            "detail": "the job has no directory state yet: register an agent and run `roster-agent push` first"
        })
    }

    /// An imported user's explanation, as both explain routes answer it.
    pub(crate) fn explained_ann() -> Value {
        json!({
            "object_guid": "d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90",
            "anchor": "b1a2c3d4-e5f6-0718-293a-4b5c6d7e8f91",
            "username": "ann",
            "dn": "CN=Ann Berg,OU=Copenhagen,OU=Staff,DC=corp,DC=example,DC=test",
            "in_scope": true,
            "imported": true,
            "active": true,
            "grants": [
                {
                    "access_id": "d3d94468-02a4-4322-8f5d-7a1e9b6c0d2f",
                    "kind": "user",
                    "name": "Copenhagen",
                    "chains": [
                        {
                            "groups": [
                                {
                                    "object_guid": "00112233-4455-6677-8899-aabbccddeeff",
                                    "name": "Sales-DK",
                                    "dn": "CN=Sales-DK,OU=Groups,DC=corp,DC=example,DC=test"
                                },
                                {
                                    "object_guid": "33333333-4444-5555-6666-777777777777",
                                    "name": "All-Staff",
                                    "dn": "CN=All-Staff,OU=Groups,DC=corp,DC=example,DC=test"
                                }
                            ],
                            "text": "Sales-DK \u{2192} All-Staff (linked: user @ Copenhagen)"
                        }
                    ]
                }
            ],
            "reasons": []
        })
    }

    /// The body of approve and reject that names who decided.
    pub(crate) fn named_decision() -> Value {
        json!({"by": "alice@corp.example.test"})
    }

    /// The 409 of approve and reject for a session that is no longer held.
    pub(crate) fn not_held() -> Value {
        json!({
            "type": "urn:roster:problem:session-not-held",
            "title": "Conflict",
            "status": 409,
            "detail": "session 45c48cce-2e2d-4fbd-aa1a-fc51c7c4b8e1 is rejected, not held"
        })
    }
}
