//! Event payloads read as JavaScript's `JSON.parse` reads them, borrowing strings from the
//! message where they have no escapes: numbers as doubles (correctly rounded), objects with their
//! keys in source order and duplicates kept (the reader resolves them as JavaScript does).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    Array,
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Parses one payload. Arrays are kept only as a marker: no line protocol stores one.
pub(crate) fn parse(payload: &[u8]) -> Result<Json<'_>, String> {
    let mut de = serde_json::Deserializer::from_slice(payload);
    let v = Json::deserialize(&mut de).map_err(|e| format!("payload is not JSON: {e}"))?;
    de.end().map_err(|e| format!("payload is not JSON: {e}"))?;
    Ok(v)
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// A key that borrows from the input when it can.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    // JavaScript has one number type; a u64 rounds to the nearest double just as the decimal
    // text does in JSON.parse.
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v = map.next_value::<Json<'de>>()?;
            entries.push((k, v));
        }
        Ok(Json::Object(entries))
    }
}

/// Whether JavaScript treats `key` as an array index, which `Object.keys` lists first, in
/// ascending order, before every other key.
fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = key.parse().ok()?;
    (v < u32::MAX as u64).then_some(v as u32)
}

/// The entries of an object in `Object.keys` order, after `JSON.parse`: a duplicated key keeps
/// its first position and its last value; array-index keys come first, ascending.
pub(crate) fn entries_in_js_order<'o, 'a>(
    entries: &'o [(Cow<'a, str>, Json<'a>)],
) -> Vec<&'o (Cow<'a, str>, Json<'a>)> {
    let mut out: Vec<&(Cow<str>, Json)> = Vec::with_capacity(entries.len());
    let mut has_index = false;
    // Small objects (nearly all events) look back linearly; a large one, which a hostile peer
    // can send, is indexed so that the cost stays linear in its size.
    let mut index: Option<std::collections::HashMap<&str, usize>> =
        (entries.len() > 16).then(std::collections::HashMap::new);
    for e in entries {
        let seen = match &mut index {
            Some(map) => match map.get(e.0.as_ref()) {
                Some(&slot) => Some(slot),
                None => {
                    map.insert(e.0.as_ref(), out.len());
                    None
                }
            },
            None => out.iter().position(|p| p.0 == e.0),
        };
        if let Some(slot) = seen {
            out[slot] = e;
            continue;
        }
        has_index |= array_index(&e.0).is_some();
        out.push(e);
    }
    if has_index {
        // A stable sort keeps the other keys in source order.
        out.sort_by_key(|e| match array_index(&e.0) {
            Some(n) => (0, n),
            None => (1, 0),
        });
    }
    out
}
