//! Lenient JSON building blocks for the vendor parsers.
//!
//! Every type here deserializes from *any* JSON value without failing: a value of the wrong
//! type is kept as [`Got`] (what it was) instead of aborting the whole document. The vendor
//! modules then read the fields they need through accessors that know the expected type and
//! return a [`FieldError`] whose path grows as it bubbles up (`binary` → `processes[0]` →
//! `finding`). A typed serde error would say "invalid type at line 1 column 9000"; this way an
//! error names the field, and the happy path stays allocation-light (strings borrow from the
//! input where JSON escapes allow).
//!
//! Nothing here knows any vendor's schema, and nothing here panics.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Problem;

/// Most elements a [`List`] keeps; the rest are skipped and [`List::overflow`] is set.
pub(crate) const MAX_LIST_ITEMS: usize = 1024;

/// How many characters of a wrong string value an error message quotes.
const PREVIEW_CHARS: usize = 40;

/// What a JSON value turned out to be, for the "(got …)" part of an error.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Got {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array,
    Object,
}

impl Got {
    fn string(text: &str) -> Self {
        Self::String(preview(text))
    }
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Number(number) => f.write_str(number),
            Self::String(text) => write!(f, "the string {text:?}"),
            Self::Array => f.write_str("an array"),
            Self::Object => f.write_str("an object"),
        }
    }
}

/// The first few characters of `text`, with `…` when cut.
pub(crate) fn preview(text: &str) -> String {
    let mut chars = text.char_indices();
    match chars.nth(PREVIEW_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A JSON leaf read without judging its type: `null`/absent, a scalar, or an array or object
/// (skipped, remembered only as such).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Scalar<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    /// A non-negative integer above `i64::MAX`.
    Big(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
                Scalar::deserialize(inner)
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(value).map_or(Scalar::Big(value), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Float(value))
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(value)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Scalar::Object)
            }
        }

        deserializer.deserialize_any(ScalarVisitor(PhantomData))
    }
}

impl Scalar<'_> {
    fn got(&self) -> Got {
        match self {
            Self::Null => Got::Null,
            Self::Bool(value) => Got::Bool(*value),
            Self::Int(value) => Got::Number(value.to_string()),
            Self::Big(value) => Got::Number(value.to_string()),
            Self::Float(value) => Got::Number(value.to_string()),
            Self::Str(text) => Got::string(text),
            Self::Array => Got::Array,
            Self::Object => Got::Object,
        }
    }

    fn wrong(&self, expected: &'static str) -> Problem {
        Problem::Expected {
            expected,
            got: self.got().to_string(),
        }
    }

    /// A string; `null` and `""` (the proto3 default) are absent.
    pub(crate) fn text(&self) -> Result<Option<&str>, Problem> {
        match self {
            Self::Null => Ok(None),
            Self::Str(text) if text.is_empty() => Ok(None),
            Self::Str(text) => Ok(Some(text)),
            _ => Err(self.wrong("a string")),
        }
    }

    /// Like [`Scalar::text`], but a value of the wrong type is treated as absent: for free-form
    /// maps (SCC `sourceProperties`) whose keys we only use as a fallback.
    pub(crate) fn text_or_none(&self) -> Option<&str> {
        self.text().ok().flatten()
    }

    /// An int64 sent as a JSON number or, per the proto3 JSON mapping, as a decimal string.
    /// `null`, `""` and `0` (the proto3 default, which no real pid or size uses) are absent.
    pub(crate) fn int(&self) -> Result<Option<i64>, Problem> {
        const EXPECTED: &str = "an integer or a numeric string";
        let value = match self {
            Self::Null => return Ok(None),
            Self::Int(value) => *value,
            // Integral and within ±2^53, so the cast is exact.
            Self::Float(value) if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 => {
                *value as i64
            }
            Self::Str(text) if text.is_empty() => return Ok(None),
            Self::Str(text) => parse_decimal(text).ok_or_else(|| self.wrong(EXPECTED))?,
            _ => return Err(self.wrong(EXPECTED)),
        };
        Ok((value != 0).then_some(value))
    }

    /// A non-negative int64 (sizes).
    pub(crate) fn size(&self) -> Result<Option<u64>, Problem> {
        match self.int()? {
            None => Ok(None),
            Some(value) => u64::try_from(value)
                .map(Some)
                .map_err(|_| self.wrong("a non-negative integer")),
        }
    }

    /// A number, or a numeric string (GuardDuty severity).
    pub(crate) fn number(&self) -> Result<Option<f64>, Problem> {
        const EXPECTED: &str = "a number";
        // Severities are small numbers; any precision lost above 2^53 does not matter.
        match self {
            Self::Null => Ok(None),
            Self::Int(value) => Ok(Some(*value as f64)),
            Self::Big(value) => Ok(Some(*value as f64)),
            Self::Float(value) => Ok(Some(*value)),
            Self::Str(text) if text.is_empty() => Ok(None),
            Self::Str(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .map(Some)
                .ok_or_else(|| self.wrong(EXPECTED)),
            _ => Err(self.wrong(EXPECTED)),
        }
    }

    /// A boolean; `"true"`/`"false"` strings are accepted too. `null` is absent.
    pub(crate) fn flag(&self) -> Result<Option<bool>, Problem> {
        match self {
            Self::Null => Ok(None),
            Self::Bool(value) => Ok(Some(*value)),
            Self::Str(text) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Self::Str(text) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            _ => Err(self.wrong("a boolean")),
        }
    }

    /// A protobuf enum: its name (REST, gcloud) or its number (proto-plus `to_dict`).
    pub(crate) fn proto_enum(&self) -> Result<Option<EnumValue<'_>>, Problem> {
        match self {
            Self::Null => Ok(None),
            Self::Str(text) if text.is_empty() => Ok(None),
            Self::Str(text) => Ok(Some(match parse_decimal(text) {
                Some(number) => EnumValue::Number(number),
                None => EnumValue::Name(text),
            })),
            Self::Int(number) => Ok(Some(EnumValue::Number(*number))),
            _ => Err(self.wrong("an enum name or number")),
        }
    }
}

/// A protobuf enum as it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnumValue<'a> {
    Name(&'a str),
    Number(i64),
}

/// `-?[0-9]+` as an `i64`; surrounding whitespace, signs other than `-`, and exponents are
/// refused.
fn parse_decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A JSON object read into `T`, or absent (`null`), or a value of another type.
#[derive(Debug, Default)]
pub(crate) enum Obj<T> {
    #[default]
    Absent,
    Value(T),
    Wrong(Got),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
                Obj::deserialize(inner)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Value)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Obj::Wrong(Got::Array))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(Obj::Wrong(Got::Bool(value)))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(Obj::Wrong(Got::Number(value.to_string())))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(Obj::Wrong(Got::Number(value.to_string())))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(Obj::Wrong(Got::Number(value.to_string())))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Obj::Wrong(Got::string(value)))
            }
        }

        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

impl<T> Obj<T> {
    /// The object, if present.
    pub(crate) fn get(&self) -> Result<Option<&T>, Problem> {
        match self {
            Self::Absent => Ok(None),
            Self::Value(value) => Ok(Some(value)),
            Self::Wrong(got) => Err(Problem::Expected {
                expected: "an object",
                got: got.to_string(),
            }),
        }
    }
}

/// A JSON array of `T` (at most [`MAX_LIST_ITEMS`] kept), or absent, or another type.
#[derive(Debug)]
pub(crate) struct List<T> {
    items: Vec<T>,
    /// More elements followed than were kept.
    pub(crate) overflow: bool,
    wrong: Option<Got>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            overflow: false,
            wrong: None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);

        impl<T> ListVisitor<T> {
            fn wrong<E>(got: Got) -> Result<List<T>, E> {
                Ok(List {
                    items: Vec::new(),
                    overflow: false,
                    wrong: Some(got),
                })
            }
        }

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(List::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(List::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
                List::deserialize(inner)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while items.len() < MAX_LIST_ITEMS {
                    match seq.next_element::<T>()? {
                        Some(item) => items.push(item),
                        None => {
                            return Ok(List {
                                items,
                                overflow: false,
                                wrong: None,
                            });
                        }
                    }
                }
                let overflow = seq.next_element::<IgnoredAny>()?.is_some();
                drain_seq(seq)?;
                Ok(List {
                    items,
                    overflow,
                    wrong: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Self::wrong(Got::Object)
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Self::wrong(Got::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Self::wrong(Got::Number(value.to_string()))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Self::wrong(Got::Number(value.to_string()))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Self::wrong(Got::Number(value.to_string()))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Self::wrong(Got::string(value))
            }
        }

        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

impl<T> List<T> {
    /// The elements kept (empty when absent).
    pub(crate) fn get(&self) -> Result<&[T], Problem> {
        match &self.wrong {
            None => Ok(&self.items),
            Some(got) => Err(Problem::Expected {
                expected: "an array",
                got: got.to_string(),
            }),
        }
    }
}

/// Most members a [`RawObject`] keeps; real findings have a few dozen top-level keys.
const MAX_RAW_MEMBERS: usize = 256;

/// A JSON object's members as raw JSON text, in document order, for sniffing a document's
/// shape and unwrapping envelopes without building a `serde_json::Value` tree.
#[derive(Debug, Default)]
pub(crate) struct RawObject<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// The raw value of the first member named `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| *value)
    }

    /// Whether a member named `key` exists (whatever its value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.members.iter().any(|(name, _)| name == key)
    }

    /// The first few keys, quoted and comma-separated, for error messages.
    pub(crate) fn key_list(&self) -> String {
        const SHOWN: usize = 8;
        if self.members.is_empty() {
            return "none".to_owned();
        }
        let mut list = self
            .members
            .iter()
            .take(SHOWN)
            .map(|(name, _)| format!("{:?}", preview(name)))
            .collect::<Vec<_>>()
            .join(", ");
        if self.members.len() > SHOWN {
            list.push_str(", …");
        }
        list
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawObjectVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for RawObjectVisitor<'a> {
            type Value = RawObject<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Scalar<'de>>()? {
                    if members.len() < MAX_RAW_MEMBERS
                        && let Scalar::Str(name) = key
                    {
                        members.push((name, map.next_value::<&'de RawValue>()?));
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RawObject { members })
            }
        }

        deserializer.deserialize_map(RawObjectVisitor(PhantomData))
    }
}

/// One step of a field path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A schema key, written in camelCase and shown in the document's [`Case`].
    Key(&'static str),
    /// A key shown exactly as written (`detail`, `Findings`, `message.data`).
    Raw(&'static str),
    /// A key that contains dots (Falco field names), shown as `["proc.exepath"]`.
    Quoted(&'static str),
    /// An array index.
    Index(usize),
}

/// The key spelling of a document, used only to print field paths as the document spells
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Case {
    /// REST and proto3 JSON: `hashedSize`.
    #[default]
    Camel,
    /// proto-plus `to_dict`: `hashed_size`.
    Snake,
    /// boto3 and the AWS CLI: `HashedSize`.
    Pascal,
}

impl Case {
    fn write_key(self, key: &str, out: &mut String) {
        match self {
            Self::Camel => out.push_str(key),
            Self::Snake => {
                for c in key.chars() {
                    if c.is_ascii_uppercase() {
                        out.push('_');
                        out.push(c.to_ascii_lowercase());
                    } else {
                        out.push(c);
                    }
                }
            }
            Self::Pascal => {
                let mut chars = key.chars();
                if let Some(first) = chars.next() {
                    out.push(first.to_ascii_uppercase());
                    out.push_str(chars.as_str());
                }
            }
        }
    }
}

/// A field that failed, with its path from the finding down, outermost first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    path: Vec<Seg>,
    pub(crate) problem: Problem,
}

impl FieldError {
    /// An error at the current position; callers add the path with [`At`].
    pub(crate) fn new(problem: Problem) -> Self {
        Self {
            path: Vec::new(),
            problem,
        }
    }

    /// This error under `path` (outermost first).
    pub(crate) fn prefixed(mut self, path: &[Seg]) -> Self {
        self.path.splice(0..0, path.iter().copied());
        self
    }

    /// The path as text, in `case`.
    pub(crate) fn path(&self, case: Case) -> String {
        let mut out = String::new();
        for (position, seg) in self.path.iter().enumerate() {
            match seg {
                Seg::Key(key) => {
                    if position > 0 {
                        out.push('.');
                    }
                    case.write_key(key, &mut out);
                }
                Seg::Raw(key) => {
                    if position > 0 {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Seg::Quoted(key) => {
                    out.push_str("[\"");
                    out.push_str(key);
                    out.push_str("\"]");
                }
                Seg::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// Adds path segments to errors as they bubble up.
pub(crate) trait At<T> {
    /// Prefixes `seg` to the error's path.
    fn at(self, seg: Seg) -> Result<T, FieldError>;

    /// Prefixes the key `key`.
    fn key(self, key: &'static str) -> Result<T, FieldError>
    where
        Self: Sized,
    {
        self.at(Seg::Key(key))
    }

    /// Prefixes the array index `index`.
    fn index(self, index: usize) -> Result<T, FieldError>
    where
        Self: Sized,
    {
        self.at(Seg::Index(index))
    }

    /// Prefixes a whole path, outermost first.
    fn within(self, path: &[Seg]) -> Result<T, FieldError>;
}

impl<T> At<T> for Result<T, Problem> {
    fn at(self, seg: Seg) -> Result<T, FieldError> {
        self.map_err(|problem| FieldError {
            path: vec![seg],
            problem,
        })
    }

    fn within(self, path: &[Seg]) -> Result<T, FieldError> {
        self.map_err(|problem| FieldError {
            path: path.to_vec(),
            problem,
        })
    }
}

impl<T> At<T> for Result<T, FieldError> {
    fn at(self, seg: Seg) -> Result<T, FieldError> {
        self.map_err(|error| error.prefixed(&[seg]))
    }

    fn within(self, path: &[Seg]) -> Result<T, FieldError> {
        self.map_err(|error| error.prefixed(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Probe<'a> {
        #[serde(borrow)]
        value: Scalar<'a>,
    }

    fn scalar(json: &str) -> Scalar<'_> {
        serde_json::from_str::<Probe<'_>>(&format!(r#"{{"value": {json}}}"#))
            .unwrap()
            .value
            .clone_static()
    }

    impl Scalar<'_> {
        fn clone_static(&self) -> Scalar<'static> {
            match self {
                Self::Null => Scalar::Null,
                Self::Bool(v) => Scalar::Bool(*v),
                Self::Int(v) => Scalar::Int(*v),
                Self::Big(v) => Scalar::Big(*v),
                Self::Float(v) => Scalar::Float(*v),
                Self::Str(v) => Scalar::Str(Cow::Owned(v.to_string())),
                Self::Array => Scalar::Array,
                Self::Object => Scalar::Object,
            }
        }
    }

    #[rstest]
    #[case::number("1234", Ok(Some(1234)))]
    #[case::string("\"1234\"", Ok(Some(1234)))]
    #[case::negative_string("\"-7\"", Ok(Some(-7)))]
    #[case::integral_float("1234.0", Ok(Some(1234)))]
    #[case::zero_is_proto3_default("\"0\"", Ok(None))]
    #[case::empty_string("\"\"", Ok(None))]
    #[case::null("null", Ok(None))]
    #[case::fraction("12.5", Err("expected an integer or a numeric string (got 12.5)"))]
    #[case::words(
        "\"12 KiB\"",
        Err("expected an integer or a numeric string (got the string \"12 KiB\")")
    )]
    #[case::plus_sign(
        "\"+12\"",
        Err("expected an integer or a numeric string (got the string \"+12\")")
    )]
    #[case::boolean("true", Err("expected an integer or a numeric string (got true)"))]
    #[case::object(
        "{\"a\": 1}",
        Err("expected an integer or a numeric string (got an object)")
    )]
    #[case::too_big(
        "18446744073709551615",
        Err("expected an integer or a numeric string (got 18446744073709551615)")
    )]
    #[case::too_big_string(
        "\"99999999999999999999\"",
        Err("expected an integer or a numeric string (got the string \"99999999999999999999\")")
    )]
    fn int64_fields_accept_numbers_and_numeric_strings(
        #[case] json: &str,
        #[case] expected: Result<Option<i64>, &str>,
    ) {
        let got = scalar(json).int().map_err(|problem| problem.to_string());
        assert_eq!(got, expected.map_err(str::to_owned));
    }

    #[test]
    fn sizes_refuse_negative_values() {
        assert_eq!(
            scalar("\"-1\"").size().unwrap_err().to_string(),
            "expected a non-negative integer (got the string \"-1\")"
        );
    }

    #[test]
    fn wrong_string_values_are_quoted_briefly() {
        let long = "x".repeat(100_000);
        let message = scalar(&format!("\"{long}\""))
            .int()
            .unwrap_err()
            .to_string();
        assert!(message.len() < 120, "{message}");
        assert!(message.ends_with("…\")"), "{message}");
    }

    #[test]
    fn paths_render_in_the_document_case() {
        let error: Result<(), FieldError> = Err(Problem::Missing)
            .key("hashedSize")
            .key("binary")
            .index(0)
            .key("processes")
            .key("finding");
        let error = error.unwrap_err();
        assert_eq!(
            error.path(Case::Camel),
            "finding.processes[0].binary.hashedSize"
        );
        assert_eq!(
            error.path(Case::Snake),
            "finding.processes[0].binary.hashed_size"
        );
        assert_eq!(
            error.path(Case::Pascal),
            "Finding.Processes[0].Binary.HashedSize"
        );
        let falco: Result<(), FieldError> = Err(Problem::Missing)
            .at(Seg::Quoted("proc.exepath"))
            .at(Seg::Raw("output_fields"));
        assert_eq!(
            falco.unwrap_err().path(Case::Camel),
            "output_fields[\"proc.exepath\"]"
        );
    }
}
