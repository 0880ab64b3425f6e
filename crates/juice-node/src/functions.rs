//! Free functions: CURVE keys, type-name validation and endpoint diagnosis.

use std::time::Duration;

use juice_core as core;
use napi::Result;
use napi_derive::napi;

use crate::errors::{js_err, CodedError};

#[napi(object)]
pub struct KeyPair {
    pub public_key: String,
    pub secret_key: String,
}

#[napi]
pub fn generate_key_pair() -> Result<KeyPair, CodedError> {
    let k = core::curve::generate_key_pair().map_err(js_err)?;
    Ok(KeyPair {
        public_key: k.public_key,
        secret_key: k.secret_key,
    })
}

#[napi]
pub fn curve_public_key(secret_key: String) -> Result<String, CodedError> {
    core::curve::public_key_of(&secret_key).map_err(js_err)
}

#[napi]
pub fn curve_available() -> bool {
    core::curve::available()
}

/// Throws unless `name` can be an event type name on the wire.
#[napi]
pub fn validate_type_name(name: String) -> Result<(), CodedError> {
    core::wire::validate_type_name(&name).map_err(js_err)
}

/// Why a client (`role`: "publisher", "subscriber" or "query") cannot talk to `uri`, from a short raw
/// ZMTP exchange; null when the endpoint looks right or cannot be reached.
#[napi]
pub fn diagnose_endpoint(
    uri: String,
    role: String,
    have_curve: bool,
    timeout_ms: u32,
) -> Option<String> {
    let role = match role.as_str() {
        "publisher" => core::probe::Role::Publisher,
        "query" => core::probe::Role::Query,
        _ => core::probe::Role::Subscriber,
    };
    core::probe::diagnose(
        &uri,
        role,
        have_curve,
        Duration::from_millis(timeout_ms.into()),
    )
}
