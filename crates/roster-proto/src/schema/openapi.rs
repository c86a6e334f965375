//! The wire types as OpenAPI components (`utoipa::ToSchema`), for the
//! server's generated openapi.json: each is a `$ref` into
//! `proto-schemas/json/`, named as the registry in [`super::ENTRIES`] says,
//! so openapi.json never holds a copy of a message schema.

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};

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
