//! One event payload as one line of InfluxDB line protocol, byte for byte as the TypeScript path
//! (`src/line-protocol.ts`) writes it for the same class and the same message:
//!
//!   measurement[,tag=value...] field=value[,field=value...] timestamp_ns
//!
//! The rules are those of the TypeScript module: see there for why each exists. Errors carry the
//! same wording, so a rejected point reads the same in either path's `lastError`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use super::jsnum::{
    is_plain_safe_integer, is_safe_integer, js_string, js_string_of_text, prints_as_itself,
    push_int, python_float,
};
use super::json::{self, entries_in_js_order, FlatMember, Json};
use super::wire_time::{nanos_of_ms, nanos_of_text};

/// How a declared field is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Float,
    Int,
    Bool,
    String,
}

/// The storage schema of one event type, as the TypeScript `Point` class statics give it.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schema {
    pub measurement: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub integer_fields: Vec<String>,
    /// Declared field types (`static fields`); `None` for the untyped rules.
    #[serde(default)]
    pub fields: Option<HashMap<String, FieldType>>,
    /// Payload keys that would replace the class's prototype or a method in JavaScript: such an
    /// event is refused there, so it is refused here too.
    #[serde(default)]
    pub reserved: Vec<String>,
}

impl Schema {
    /// The schema as the TypeScript layer sends it: `{ measurement, tags, integerFields, fields,
    /// reserved }`.
    pub fn from_json(text: &str) -> Result<Schema, String> {
        serde_json::from_str(text).map_err(|e| format!("storage schema: {e}"))
    }
}

/// A set of names: a linear scan while small (a handful of tags beats hashing every key), a hash
/// set beyond. Every payload key is looked up in several of these, so the hash is FNV-1a rather
/// than SipHash: the names are few, fixed and chosen by the schema, not by peers.
struct Names {
    few: Vec<String>,
    many: HashSet<String, BuildHasherDefault<Fnv>>,
    /// Bit `n` is set when a name is `n` bytes long (63 for 63 or more), and bit `b % 64` of
    /// `firsts` when a name starts with byte `b`: most keys miss both, and then no name is
    /// compared or hashed at all.
    lengths: u64,
    firsts: u64,
}

/// FNV-1a, 64-bit.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Names {
    fn new<'a>(names: impl IntoIterator<Item = &'a String>) -> Names {
        let all: HashSet<String, BuildHasherDefault<Fnv>> = names.into_iter().cloned().collect();
        let (mut lengths, mut firsts) = (0u64, 0u64);
        for n in &all {
            lengths |= 1 << n.len().min(63);
            firsts |= 1 << (n.as_bytes().first().copied().unwrap_or(0) % 64);
        }
        let (few, many) = if all.len() <= 8 {
            (all.into_iter().collect(), HashSet::default())
        } else {
            (Vec::new(), all)
        };
        Names {
            few,
            many,
            lengths,
            firsts,
        }
    }

    fn contains(&self, name: &str) -> bool {
        let first = name.as_bytes().first().copied().unwrap_or(0) % 64;
        if self.lengths & (1 << name.len().min(63)) == 0 || self.firsts & (1 << first) == 0 {
            return false;
        }
        if self.many.is_empty() {
            self.few.iter().any(|n| n == name)
        } else {
            self.many.contains(name)
        }
    }
}

/// A schema checked once and ready to write lines.
pub(crate) struct Compiled {
    /// What it was compiled from, to tell a second registration of the same type apart.
    pub(crate) source: Schema,
    measurement: String,
    tags: Names,
    integers: Names,
    types: Option<HashMap<String, FieldType>>,
    reserved: Names,
}

const MAX_DEPTH: usize = 32;

impl Compiled {
    pub(crate) fn new(s: &Schema) -> Result<Compiled, String> {
        if s.measurement.is_empty() {
            return Err("measurement must not be empty".into());
        }
        if s.measurement.starts_with('#') {
            return Err(format!(
                "measurement {} starts with \"#\", which makes the line a comment that InfluxDB silently ignores",
                quoted(&s.measurement)
            ));
        }
        let mut measurement = String::new();
        escape_name(&s.measurement, "measurement", &[',', ' '], &mut measurement)?;
        let proto = "__proto__".to_owned();
        Ok(Compiled {
            source: s.clone(),
            measurement,
            tags: Names::new(&s.tags),
            integers: Names::new(&s.integer_fields),
            types: s.fields.clone(),
            reserved: Names::new(s.reserved.iter().chain([&proto])),
        })
    }

    /// Appends the line for `payload` (no newline) to `out`; on error `out` is left as it was.
    /// `w` is scratch space, reused from line to line so that a line allocates next to nothing.
    pub(crate) fn write_line(
        &self,
        payload: &str,
        now: impl FnOnce() -> i128,
        w: &mut LineWriter,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        w.clear();
        // The common shape (one flat object in source order) is read without building a tree;
        // everything else, and every error, goes through the general reader.
        let mut members = std::mem::take(&mut w.flat);
        let result = if json::flat_object(payload, &mut members)
            && self.flat_in_js_order(payload, &members)
        {
            self.flat_line(payload, &members, now, w, out)
        } else {
            self.tree_line(payload, now, w, out)
        };
        w.flat = members;
        result
    }

    /// Whether `Object.keys` would list the members of a flat object in source order, each once,
    /// with nothing the JavaScript path refuses: then they can be written as read.
    fn flat_in_js_order(&self, text: &str, members: &[FlatMember]) -> bool {
        for (i, m) in members.iter().enumerate() {
            let k = m.key(text);
            if self.reserved.contains(k)
                || json::array_index(k).is_some()
                || members[..i].iter().any(|p| p.key(text) == k)
            {
                return false;
            }
        }
        true
    }

    fn flat_line(
        &self,
        payload: &str,
        members: &[FlatMember],
        now: impl FnOnce() -> i128,
        w: &mut LineWriter,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        for m in members {
            let (name, v) = (m.key(payload), m.value(payload));
            match &self.types {
                Some(types) => self.typed_field(types, name, &v, w)?,
                None => self.field(name, &v, "", 0, w)?,
            }
        }
        if w.fields.is_empty() {
            return Err("event has no fields to store (InfluxDB points need at least one)".into());
        }
        let time = members
            .iter()
            .find(|m| m.key(payload) == "time")
            .map(|m| m.value(payload));
        let nanos = nanos_of(time.as_ref(), now)?;
        self.finish_line(nanos, w, out);
        Ok(())
    }

    fn tree_line(
        &self,
        payload: &str,
        now: impl FnOnce() -> i128,
        w: &mut LineWriter,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let v = json::parse(payload)?;
        let Json::Object(entries) = &v else {
            return Err("event payload must be a JSON object".into());
        };
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| self.reserved.contains(k.as_ref()))
        {
            return Err(format!(
                "event payload has a field {} that would replace the prototype or a method",
                quoted(k)
            ));
        }
        let ordered = entries_in_js_order(entries);
        match &self.types {
            Some(types) => self.typed_fields(types, &ordered, w)?,
            None => self.fields(&ordered, "", 0, w)?,
        }
        if w.fields.is_empty() {
            return Err("event has no fields to store (InfluxDB points need at least one)".into());
        }
        let nanos = nanos_of(ordered.iter().find(|e| e.0 == "time").map(|e| &e.1), now)?;
        self.finish_line(nanos, w, out);
        Ok(())
    }

    /// Writes the line from the parts in `w`.
    fn finish_line(&self, nanos: i128, w: &mut LineWriter, out: &mut Vec<u8>) {
        // Tags sorted as JavaScript sorts strings: by UTF-16 code units (for ASCII, bytes).
        let text = &w.tag_text;
        w.tag_spans.sort_by(|a, b| {
            let (x, y) = (&text[a.0..a.1], &text[b.0..b.1]);
            if x.is_ascii() && y.is_ascii() {
                x.cmp(y)
            } else {
                x.encode_utf16().cmp(y.encode_utf16())
            }
        });
        out.extend_from_slice(self.measurement.as_bytes());
        for &(a, b) in &w.tag_spans {
            out.push(b',');
            out.extend_from_slice(&text.as_bytes()[a..b]);
        }
        out.push(b' ');
        out.extend_from_slice(w.fields.as_bytes());
        out.push(b' ');
        match i64::try_from(nanos) {
            Ok(n) => {
                w.scratch.clear();
                push_int(n, &mut w.scratch);
                out.extend_from_slice(w.scratch.as_bytes());
            }
            Err(_) => {
                let _ = write!(Bytes(out), "{nanos}");
            }
        }
    }

    fn fields(
        &self,
        entries: &[&(Cow<str>, Json)],
        prefix: &str,
        depth: usize,
        w: &mut LineWriter,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "fields nest deeper than 32 levels at {}",
                quoted(prefix)
            ));
        }
        for e in entries {
            self.field(&e.0, &e.1, prefix, depth, w)?;
        }
        Ok(())
    }

    fn typed_fields(
        &self,
        types: &HashMap<String, FieldType>,
        entries: &[&(Cow<str>, Json)],
        w: &mut LineWriter,
    ) -> Result<(), String> {
        for e in entries {
            self.typed_field(types, &e.0, &e.1, w)?;
        }
        Ok(())
    }

    /// One member of an object at `depth` (its name already prefixed by its parents' names).
    fn field(
        &self,
        name: &str,
        v: &Json,
        prefix: &str,
        depth: usize,
        w: &mut LineWriter,
    ) -> Result<(), String> {
        if matches!(v, Json::Null) {
            return Ok(());
        }
        if depth == 0 && name == "time" {
            return Ok(());
        }
        let path: Cow<str> = if prefix.is_empty() {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{prefix}{name}"))
        };
        if depth == 0 && self.tags.contains(name.as_ref()) {
            let mut text = std::mem::take(&mut w.scratch);
            text.clear();
            match v {
                Json::Str(s) => text.push_str(s),
                Json::Number(n) => js_string_of_text(n.0, &mut text),
                Json::Bool(b) => text.push_str(if *b { "true" } else { "false" }),
                Json::Array => return Err(tag_kind(name, "an array")),
                Json::Object(_) => return Err(tag_kind(name, "an object")),
                Json::Null => unreachable!(),
            }
            w.tag(name, &text)?;
            w.scratch = text;
            return Ok(());
        }
        match v {
            Json::Array => {
                return Err(format!(
                    "field {} is an array; store its items as separate fields or points",
                    quoted(&path)
                ))
            }
            Json::Object(inner) => {
                let ordered = entries_in_js_order(inner);
                self.fields(&ordered, &format!("{path}."), depth + 1, w)?;
            }
            Json::Number(n) => {
                w.key(&path)?;
                let integer = self.integers.contains(path.as_ref());
                // Most numbers are stored as written: no conversion either way.
                if integer && is_plain_safe_integer(n.0) {
                    w.fields.push_str(n.0);
                    w.fields.push('i');
                    return Ok(());
                }
                if !integer && prints_as_itself(n.0) {
                    w.fields.push_str(n.0);
                    return Ok(());
                }
                let n = n.value();
                if !n.is_finite() {
                    let mut t = String::new();
                    js_string(n, &mut t);
                    return Err(format!(
                        "field {} is {t}, which InfluxDB cannot store",
                        quoted(&path)
                    ));
                }
                if integer {
                    if !is_safe_integer(n) {
                        let mut t = String::new();
                        js_string(n, &mut t);
                        return Err(format!(
                            "integer field {} is {t}, not a safe integer",
                            quoted(&path)
                        ));
                    }
                    js_string(n, &mut w.fields);
                    w.fields.push('i');
                } else {
                    js_string(n, &mut w.fields);
                }
            }
            Json::Bool(b) => {
                w.key(&path)?;
                w.fields.push_str(if *b { "true" } else { "false" });
            }
            Json::Str(s) => {
                w.key(&path)?;
                quote_string(s, &mut w.fields);
            }
            Json::Null => {}
        }
        Ok(())
    }

    /// One top-level member under the class's declared field types.
    fn typed_field(
        &self,
        types: &HashMap<String, FieldType>,
        name: &str,
        v: &Json,
        w: &mut LineWriter,
    ) -> Result<(), String> {
        if matches!(v, Json::Null) || name == "time" {
            return Ok(());
        }
        let declared = types.get(name).copied();
        if self.tags.contains(name.as_ref()) {
            let mut text = String::new();
            match (v, declared) {
                (Json::Array, _) => return Err(tag_kind(name, "an array")),
                (Json::Object(_), _) => return Err(tag_kind(name, "an object")),
                (Json::Bool(b), Some(FieldType::Bool)) => {
                    text.push_str(if *b { "True" } else { "False" })
                }
                (Json::Number(n), Some(FieldType::Float)) => python_float(n.value(), &mut text),
                (Json::Str(s), _) => text.push_str(s),
                (Json::Number(n), _) => js_string_of_text(n.0, &mut text),
                (Json::Bool(b), _) => text.push_str(if *b { "true" } else { "false" }),
                (Json::Null, _) => unreachable!(),
            }
            w.tag(name, &text)?;
            return Ok(());
        }
        let Some(ty) = declared else {
            return Err(format!(
                "field {} is not declared in the class's static fields",
                quoted(name)
            ));
        };
        let bad = |what: String| {
            let t = match ty {
                FieldType::Float => "float",
                FieldType::Int => "int",
                FieldType::Bool => "bool",
                FieldType::String => "string",
            };
            format!("field {} is declared {t} but holds {what}", quoted(name))
        };
        match (ty, v) {
            // Upstream leaves non-finite floats out (JSON's 1e400 is infinite).
            (FieldType::Float, Json::Number(n)) if prints_as_itself(n.0) => {
                w.key(name)?;
                w.fields.push_str(n.0);
            }
            (FieldType::Float, Json::Number(n)) if !n.value().is_finite() => {}
            (FieldType::Float, Json::Number(n)) => {
                w.key(name)?;
                js_string(n.value(), &mut w.fields);
            }
            // pydantic's text for non-finite floats: upstream leaves the field out.
            (FieldType::Float, Json::Str(s))
                if matches!(s.as_ref(), "NaN" | "Infinity" | "-Infinity") => {}
            (FieldType::Float, Json::Str(s)) => return Err(bad(quoted(s))),
            (FieldType::Int, Json::Number(n)) if is_plain_safe_integer(n.0) => {
                w.key(name)?;
                w.fields.push_str(n.0);
                w.fields.push('i');
            }
            (FieldType::Int, Json::Number(n)) if is_safe_integer(n.value()) => {
                w.key(name)?;
                js_string(n.value(), &mut w.fields);
                w.fields.push('i');
            }
            (FieldType::Int, Json::Number(n)) => {
                let mut t = String::new();
                js_string(n.value(), &mut t);
                return Err(bad(t));
            }
            (FieldType::Bool, Json::Bool(b)) => {
                w.key(name)?;
                w.fields.push_str(if *b { "true" } else { "false" });
            }
            (FieldType::String, Json::Str(s)) => {
                w.key(name)?;
                quote_string(s, &mut w.fields);
            }
            (_, v) => return Err(bad(js_type(v).into())),
        }
        Ok(())
    }
}

/// The timestamp of a point from its `time` member, or `now()` without one.
fn nanos_of(time: Option<&Json>, now: impl FnOnce() -> i128) -> Result<i128, String> {
    match time {
        None => Ok(now()),
        Some(Json::Str(t)) => nanos_of_text(t),
        Some(Json::Number(ms)) => nanos_of_ms(ms.value()),
        Some(_) => Err("invalid event time: not text or a number".into()),
    }
}

/// `typeof` of a parsed value, as the TypeScript messages name it.
fn js_type(v: &Json) -> &'static str {
    match v {
        Json::Null | Json::Array | Json::Object(_) => "object",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::Str(_) => "string",
    }
}

fn tag_kind(name: &str, kind: &str) -> String {
    format!(
        "tag {} must be a string, number or boolean, got {kind}",
        quoted(name)
    )
}

/// The parts of one line while it is being built.
#[derive(Default)]
pub(crate) struct LineWriter {
    /// Every `key=value` tag, one after another, and where each is.
    tag_text: String,
    tag_spans: Vec<(usize, usize)>,
    /// `key=value` pairs joined by commas.
    fields: String,
    /// A tag's value or the timestamp while it is written, kept to spare an allocation a line.
    scratch: String,
    /// The members of a flat payload.
    flat: Vec<FlatMember>,
}

const KEY_SPECIAL: &[char] = &[',', '=', ' '];

impl LineWriter {
    fn clear(&mut self) {
        self.tag_text.clear();
        self.tag_spans.clear();
        self.fields.clear();
    }

    fn key(&mut self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("field names must not be empty".into());
        }
        if !self.fields.is_empty() {
            self.fields.push(',');
        }
        escape_name(name, "field name", KEY_SPECIAL, &mut self.fields)?;
        self.fields.push('=');
        Ok(())
    }

    fn tag(&mut self, name: &str, text: &str) -> Result<(), String> {
        if text.is_empty() {
            return Ok(());
        }
        if name.is_empty() {
            return Err("field names must not be empty".into());
        }
        let start = self.tag_text.len();
        let t = &mut self.tag_text;
        escape_name(name, "field name", KEY_SPECIAL, t)?;
        t.push('=');
        escape_name_with(
            text,
            || format!("tag {} value", quoted(name)),
            KEY_SPECIAL,
            t,
        )?;
        self.tag_spans.push((start, self.tag_text.len()));
        Ok(())
    }
}

/// Appends `text` with `special` characters backslash-escaped, refusing what line protocol
/// cannot carry (a line break; a backslash at the end or before a special character).
fn escape_name(text: &str, what: &str, special: &[char], out: &mut String) -> Result<(), String> {
    escape_name_with(text, || what.to_owned(), special, out)
}

/// As `escape_name`, naming the value only when it is refused (the name costs a format).
fn escape_name_with(
    text: &str,
    what: impl FnOnce() -> String,
    special: &[char],
    out: &mut String,
) -> Result<(), String> {
    // Most names hold nothing to escape or refuse: copy them in one go.
    if !text
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b',' | b'=' | b' '))
    {
        out.push_str(text);
        return Ok(());
    }
    if text.contains(['\n', '\r']) {
        return Err(format!(
            "{} {} contains a line break, which line protocol cannot carry",
            what(),
            quoted(text)
        ));
    }
    let b = text.as_bytes();
    let bad_backslash = b.last() == Some(&b'\\')
        || b.windows(2)
            .any(|w| w[0] == b'\\' && matches!(w[1], b',' | b'=' | b' '));
    if bad_backslash {
        return Err(format!(
            "{} {} has a backslash at its end or before \",\", \"=\" or a space, which line protocol cannot carry",
            what(),
            quoted(text)
        ));
    }
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(())
}

/// A string field value: quoted, with `"` and `\` escaped.
fn quote_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `write!` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_sets_find_exactly_their_names() {
        let long = "x".repeat(70);
        for count in [0, 12] {
            let names: Vec<String> = ["topic", "constructor", "", &long, "__proto__", "toJSON"]
                .iter()
                .map(|s| s.to_string())
                .chain((0..count).map(|i| format!("name{i}")))
                .collect();
            let set = Names::new(&names);
            for n in &names {
                assert!(set.contains(n), "{n:?}");
            }
            for n in [
                "topix",
                "tipic",
                "t",
                "x",
                "constructoR",
                "name",
                "name99",
                &"x".repeat(71),
                "toJSOn",
            ] {
                assert!(!set.contains(n), "{n:?}");
            }
        }
    }

    /// Nanoseconds per line for the benchmark's event (`cargo test --release -- --ignored`).
    #[test]
    #[ignore]
    fn cost_per_line() {
        let schema = Compiled::new(&Schema {
            measurement: "telemetry".into(),
            tags: vec!["path".into()],
            integer_fields: vec!["seq".into()],
            ..Schema::default()
        })
        .unwrap();
        let payload = r#"{"path":"qpu0.fridge.mxc","kelvin":0.0123,"seq":123456,"t":0,"time":"2026-11-30T10:51:24.123456Z"}"#;
        let mut out = Vec::with_capacity(1 << 20);
        let mut w = LineWriter::default();
        // This thread's CPU time, the fastest of several rounds: the machine is shared, and
        // noise only ever adds time.
        let cpu_ns = || {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes the timespec it is given.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
            t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
        };
        let fastest = |f: &mut dyn FnMut()| {
            (0..7)
                .map(|_| {
                    let n = 200_000;
                    let t0 = cpu_ns();
                    for _ in 0..n {
                        f();
                    }
                    (cpu_ns() - t0) / n as f64
                })
                .fold(f64::INFINITY, f64::min)
        };
        let per = fastest(&mut || {
            out.clear();
            schema.write_line(payload, || 0, &mut w, &mut out).unwrap();
        });
        let parse = fastest(&mut || {
            let v = super::json::parse(payload).unwrap();
            std::hint::black_box(&v);
        });
        eprintln!(
            "{} -> {per:.0} ns per line, of which JSON parse {parse:.0} ns",
            String::from_utf8_lossy(&out)
        );
    }
}
