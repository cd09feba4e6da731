//! Lenient JSON building blocks for the vendor parsers.
//!
//! Every type here deserializes from *any* JSON value without failing: a value of the wrong
//! type is kept as [`Got`] (what it was) instead of aborting the whole document. The vendor
//! modules declare their objects with [`wire_object!`], which writes each field's wire name
//! once: serde matches keys by it, and the field's accessor locates the value under it. They
//! then read values through [`At`], which knows the path from the finding down
//! (`finding.processes[0].binary.hashedSize`) and the expected type, so a wrong value is a
//! [`FieldError`] that names its field as the document spells it. A typed serde error would say
//! "invalid type at line 1 column 9000"; this way an error names the field, and the happy path
//! stays allocation-light (strings borrow from the input where JSON escapes allow, and a path
//! is only written out for an error).
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

/// How a wire object spells its keys: which spellings of a field's wire name are read, and
/// how an error path shows the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// Schema keys written in camelCase, read in camelCase or snake_case (SCC: REST and the
    /// Python client's `to_dict`); an error path shows them in the document's [`Case`].
    CamelOrSnake,
    /// Schema keys written in camelCase, read in camelCase or PascalCase (GuardDuty: the wire
    /// and boto3 or the AWS CLI); an error path shows them in the document's [`Case`].
    CamelOrPascal,
    /// Keys read and shown exactly as written (Falco's payload, SCC `sourceProperties`, the
    /// EventBridge envelope, a Pub/Sub message).
    Exact,
    /// Keys read exactly as written that contain dots (Falco `output_fields`), shown as
    /// `["proc.exepath"]`.
    Dotted,
}

impl Spelling {
    /// Whether `key`, as found in a document, is a spelling of the wire name `wire`.
    pub(crate) fn reads(self, key: &str, wire: &str) -> bool {
        key == wire
            || match self {
                Self::CamelOrSnake => is_snake_case_of(key, wire),
                Self::CamelOrPascal => is_pascal_case_of(key, wire),
                Self::Exact | Self::Dotted => false,
            }
    }

    /// The path step that names the field `wire`.
    pub(crate) const fn seg(self, wire: &'static str) -> Seg {
        match self {
            Self::CamelOrSnake | Self::CamelOrPascal => Seg::Key(wire),
            Self::Exact => Seg::Raw(wire),
            Self::Dotted => Seg::Quoted(wire),
        }
    }
}

/// Whether `key` is the snake_case of the camelCase `camel` (`hashed_size` of `hashedSize`):
/// every upper-case letter of `camel` is `_` and the letter in lower case in `key`.
fn is_snake_case_of(key: &str, camel: &str) -> bool {
    let mut key = key.bytes();
    for byte in camel.bytes() {
        if byte.is_ascii_uppercase() {
            if key.next() != Some(b'_') || key.next() != Some(byte.to_ascii_lowercase()) {
                return false;
            }
        } else if key.next() != Some(byte) {
            return false;
        }
    }
    key.next().is_none()
}

/// Whether `key` is the PascalCase of the camelCase `camel` (`HashedSize` of `hashedSize`).
fn is_pascal_case_of(key: &str, camel: &str) -> bool {
    match (key.as_bytes().split_first(), camel.as_bytes().split_first()) {
        (Some((key_first, key_rest)), Some((first, rest))) => {
            *key_first == first.to_ascii_uppercase() && key_rest == rest
        }
        _ => false,
    }
}

/// Reads the keys of a wire object (see [`wire_object!`]): which field each names, refusing a
/// field given twice (in any of its spellings) as serde's derive does.
pub(crate) struct WireKeys {
    spelling: Spelling,
    names: &'static [&'static str],
    /// Bit `i` is set once `names[i]` was read.
    seen: u64,
}

impl WireKeys {
    /// Keys of an object with the fields `names` (at most 64), spelled as `spelling` says.
    pub(crate) const fn new(spelling: Spelling, names: &'static [&'static str]) -> Self {
        Self {
            spelling,
            names,
            seen: 0,
        }
    }

    /// The next key of `map`: `None` at the end, `Some(Some(wire))` for the field whose wire
    /// name is `wire`, `Some(None)` for a key of no field (its value is the caller's to skip).
    ///
    /// # Errors
    ///
    /// The map's error, or a duplicate field.
    pub(crate) fn next<'de, A: MapAccess<'de>>(
        &mut self,
        map: &mut A,
    ) -> Result<Option<Option<&'static str>>, A::Error> {
        let Some(key) = map.next_key::<Scalar<'de>>()? else {
            return Ok(None);
        };
        let Scalar::Str(key) = key else {
            return Ok(Some(None));
        };
        let Some(index) = self
            .names
            .iter()
            .position(|wire| self.spelling.reads(&key, wire))
        else {
            return Ok(Some(None));
        };
        let wire = self.names[index];
        // `wire_object!` refuses more than 64 fields, so every field has a bit.
        if let Some(bit) = u32::try_from(index)
            .ok()
            .and_then(|shift| 1_u64.checked_shl(shift))
        {
            if self.seen & bit != 0 {
                return Err(de::Error::duplicate_field(wire));
            }
            self.seen |= bit;
        }
        Ok(Some(Some(wire)))
    }
}

/// Declares a wire object: a struct of lenient fields ([`Scalar`], [`Obj`], [`List`]) read
/// from a JSON object, where each field's wire name is written once, next to the field.
///
/// ```text
/// wire_object! {
///     /// A file.
///     struct File<'a>: CamelOrSnake {
///         path: Scalar<'a> = "path",
///         hashed_size: Scalar<'a> = "hashedSize",
///     }
/// }
/// ```
///
/// The wire name is what serde matches (in every spelling the [`Spelling`] reads; a field
/// given twice is an error, an unknown key is skipped, a missing field is its default) and
/// what an error path shows: the struct gets no public fields, only accessors on
/// [`At`]`<File>` (`file.hashed_size()`) that return the field located under its wire name.
macro_rules! wire_object {
    (
        $(#[$meta:meta])*
        struct $name:ident<'a>: $spelling:ident {
            $( $(#[$field_meta:meta])* $field:ident: $ty:ty = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Default)]
        struct $name<'a> {
            $( $(#[$field_meta])* $field: $ty, )+
        }

        impl<'de: 'a, 'a> ::serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Fields<'a>(::std::marker::PhantomData<&'a ()>);

                impl<'de: 'a, 'a> ::serde::de::Visitor<'de> for Fields<'a> {
                    type Value = $name<'a>;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($name)))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::std::result::Result<Self::Value, A::Error> {
                        const _: () = assert!([$($wire),+].len() <= 64, "at most 64 fields");
                        let mut object = $name::default();
                        let mut keys = $crate::finding::field::WireKeys::new(
                            $crate::finding::field::Spelling::$spelling,
                            &[$($wire),+],
                        );
                        while let Some(field) = keys.next(&mut map)? {
                            match field {
                                $( Some($wire) => object.$field = map.next_value()?, )+
                                _ => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(object)
                    }
                }

                deserializer.deserialize_map(Fields(::std::marker::PhantomData))
            }
        }

        impl<'v, 'a> $crate::finding::field::At<'v, '_, $name<'a>> {
            $(
                #[doc = concat!("`", $wire, "`, located.")]
                fn $field(&self) -> $crate::finding::field::At<'v, '_, $ty> {
                    self.child(
                        $crate::finding::field::Spelling::$spelling.seg($wire),
                        &self.value().$field,
                    )
                }
            )+
        }
    };
}

pub(crate) use wire_object;

/// One step of a located value's path, linked to the steps above it.
#[derive(Clone, Copy, Debug)]
struct Path<'p> {
    /// This step; `None` at a root that has no name.
    seg: Option<Seg>,
    /// The step above, if any.
    parent: Option<&'p Path<'p>>,
}

/// A value of a document with the path that leads to it, so that reading it can name the
/// field when it is wrong. Descending borrows the parent's path: nothing is allocated unless
/// an error is made.
pub(crate) struct At<'v, 'p, T: ?Sized> {
    value: &'v T,
    path: Path<'p>,
}

impl<T: ?Sized> Clone for At<'_, '_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for At<'_, '_, T> {}

impl<'v, 'p, T: ?Sized> At<'v, 'p, T> {
    /// The document itself, or what the error paths are relative to.
    pub(crate) const fn root(value: &'v T) -> Self {
        Self {
            value,
            path: Path {
                seg: None,
                parent: None,
            },
        }
    }

    /// A value that error paths name by `seg` (an envelope's `finding`, `detail`, `message`).
    pub(crate) const fn under(seg: Seg, value: &'v T) -> Self {
        Self {
            value,
            path: Path {
                seg: Some(seg),
                parent: None,
            },
        }
    }

    /// The value.
    pub(crate) const fn value(&self) -> &'v T {
        self.value
    }

    /// `value`, found under this one at `seg`.
    pub(crate) fn child<U>(&self, seg: Seg, value: &'v U) -> At<'v, '_, U> {
        At {
            value,
            path: Path {
                seg: Some(seg),
                parent: Some(&self.path),
            },
        }
    }

    /// `problem`, at this value's path.
    pub(crate) fn error(&self, problem: Problem) -> FieldError {
        let mut path = Vec::new();
        let mut step = Some(&self.path);
        while let Some(current) = step {
            path.extend(current.seg);
            step = current.parent;
        }
        path.reverse();
        FieldError { path, problem }
    }

    /// `result`, its problem at this value's path.
    pub(crate) fn check<U>(&self, result: Result<U, Problem>) -> Result<U, FieldError> {
        result.map_err(|problem| self.error(problem))
    }
}

impl<'v> At<'v, '_, Scalar<'_>> {
    /// See [`Scalar::text`].
    pub(crate) fn text(&self) -> Result<Option<&'v str>, FieldError> {
        self.check(self.value.text())
    }

    /// [`At::text`] that must be present.
    pub(crate) fn required_text(&self) -> Result<&'v str, FieldError> {
        self.text()?.ok_or_else(|| self.error(Problem::Missing))
    }

    /// [`At::text`] read further by `parse`, whose problem is this field's.
    pub(crate) fn parsed_text<U>(
        &self,
        parse: impl FnOnce(&'v str) -> Result<U, Problem>,
    ) -> Result<Option<U>, FieldError> {
        self.text()?.map(|text| self.check(parse(text))).transpose()
    }

    /// See [`Scalar::text_or_none`].
    pub(crate) fn text_or_none(&self) -> Option<&'v str> {
        self.value.text_or_none()
    }

    /// See [`Scalar::int`].
    pub(crate) fn int(&self) -> Result<Option<i64>, FieldError> {
        self.check(self.value.int())
    }

    /// See [`Scalar::size`].
    pub(crate) fn size(&self) -> Result<Option<u64>, FieldError> {
        self.check(self.value.size())
    }

    /// See [`Scalar::number`].
    pub(crate) fn number(&self) -> Result<Option<f64>, FieldError> {
        self.check(self.value.number())
    }

    /// See [`Scalar::flag`].
    pub(crate) fn flag(&self) -> Result<Option<bool>, FieldError> {
        self.check(self.value.flag())
    }

    /// See [`Scalar::proto_enum`].
    pub(crate) fn proto_enum(&self) -> Result<Option<EnumValue<'v>>, FieldError> {
        self.check(self.value.proto_enum())
    }
}

impl<'v, 'p, T> At<'v, 'p, Obj<T>> {
    /// The object, if present, located where this field is.
    pub(crate) fn object(self) -> Result<Option<At<'v, 'p, T>>, FieldError> {
        Ok(self.check(self.value.get())?.map(|value| At {
            value,
            path: self.path,
        }))
    }
}

impl<'v, 'p, T> At<'v, 'p, List<T>> {
    /// The elements (none when absent).
    pub(crate) fn items(self) -> Result<Items<'v, 'p, T>, FieldError> {
        Ok(Items {
            items: self.check(self.value.get())?,
            overflow: self.value.overflow,
            path: self.path,
        })
    }

    /// The elements, which must be at most `limit`.
    pub(crate) fn at_most(self, limit: usize) -> Result<Items<'v, 'p, T>, FieldError> {
        let items = self.items()?;
        if items.overflow || items.items.len() > limit {
            return Err(self.error(Problem::TooMany { limit }));
        }
        Ok(items)
    }
}

/// The elements of a located [`List`], each located by its index.
pub(crate) struct Items<'v, 'p, T> {
    items: &'v [T],
    overflow: bool,
    path: Path<'p>,
}

impl<'v, T> Items<'v, '_, T> {
    /// Every element kept, with its index.
    pub(crate) fn iter(&self) -> impl Iterator<Item = At<'v, '_, T>> {
        self.items.iter().enumerate().map(|(index, value)| At {
            value,
            path: Path {
                seg: Some(Seg::Index(index)),
                parent: Some(&self.path),
            },
        })
    }

    /// The elements kept, not located.
    pub(crate) const fn values(&self) -> &'v [T] {
        self.items
    }

    /// The first element.
    pub(crate) fn first(&self) -> Option<At<'v, '_, T>> {
        self.iter().next()
    }

    /// More elements followed than a [`List`] keeps.
    pub(crate) const fn overflow(&self) -> bool {
        self.overflow
    }
}

/// A field that failed, with its path from the finding down, outermost first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    path: Vec<Seg>,
    pub(crate) problem: Problem,
}

impl FieldError {
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
        let finding = At::under(Seg::Key("finding"), &());
        let processes = finding.child(Seg::Key("processes"), &());
        let process = processes.child(Seg::Index(0), &());
        let binary = process.child(Seg::Key("binary"), &());
        let error = binary
            .child(Seg::Key("hashedSize"), &())
            .error(Problem::Missing);
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
        let fields = At::under(Seg::Raw("output_fields"), &());
        let falco = fields
            .child(Seg::Quoted("proc.exepath"), &())
            .error(Problem::Missing);
        assert_eq!(falco.path(Case::Camel), "output_fields[\"proc.exepath\"]");
    }

    #[rstest]
    #[case::camel(Spelling::CamelOrSnake, "hashedSize", true)]
    #[case::snake(Spelling::CamelOrSnake, "hashed_size", true)]
    #[case::pascal_is_not_snake(Spelling::CamelOrSnake, "HashedSize", false)]
    #[case::mixed(Spelling::CamelOrSnake, "hashed_Size", false)]
    #[case::double_underscore(Spelling::CamelOrSnake, "hashed__size", false)]
    #[case::trailing(Spelling::CamelOrSnake, "hashed_size_", false)]
    #[case::lower(Spelling::CamelOrSnake, "hashedsize", false)]
    #[case::pascal(Spelling::CamelOrPascal, "HashedSize", true)]
    #[case::camel_too(Spelling::CamelOrPascal, "hashedSize", true)]
    #[case::snake_is_not_pascal(Spelling::CamelOrPascal, "hashed_size", false)]
    #[case::upper(Spelling::CamelOrPascal, "HASHEDSIZE", false)]
    #[case::exact(Spelling::Exact, "hashedSize", true)]
    #[case::exact_only(Spelling::Exact, "hashed_size", false)]
    #[case::dotted_only_exact(Spelling::Dotted, "HashedSize", false)]
    fn spellings_read_the_wire_name_and_their_alternative(
        #[case] spelling: Spelling,
        #[case] key: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(spelling.reads(key, "hashedSize"), expected);
    }

    wire_object! {
        /// A wire object for the tests below.
        struct Sample<'a>: CamelOrSnake {
            hashed_size: Scalar<'a> = "hashedSize",
            items: List<Scalar<'a>> = "items",
        }
    }

    #[test]
    fn wire_objects_read_both_spellings_and_locate_by_the_wire_name() {
        let sample: Sample<'_> =
            serde_json::from_str(r#"{"hashed_size": "x", "other": [1, {"a": 2}]}"#).unwrap();
        let located = At::under(Seg::Key("binary"), &sample);
        let error = located.hashed_size().size().unwrap_err();
        assert_eq!(error.path(Case::Snake), "binary.hashed_size");
        assert_eq!(error.path(Case::Camel), "binary.hashedSize");
        assert_eq!(
            error.problem.to_string(),
            "expected an integer or a numeric string (got the string \"x\")"
        );
    }

    #[rstest]
    #[case::same_spelling(r#"{"hashedSize": 1, "hashedSize": 2}"#)]
    #[case::two_spellings(r#"{"hashedSize": 1, "hashed_size": 2}"#)]
    fn a_field_given_twice_is_refused(#[case] json: &str) {
        let error = serde_json::from_str::<Sample<'_>>(json)
            .err()
            .unwrap()
            .to_string();
        assert!(error.starts_with("duplicate field `hashedSize`"), "{error}");
    }

    #[test]
    fn list_elements_are_located_by_index_and_capped() {
        let sample: Sample<'_> = serde_json::from_str(r#"{"items": ["a", 7]}"#).unwrap();
        let root = At::root(&sample);
        let items = root.items().items().unwrap();
        let errors: Vec<String> = items
            .iter()
            .filter_map(|item| item.text().err())
            .map(|error| error.path(Case::Camel))
            .collect();
        assert_eq!(errors, ["items[1]"]);
        assert_eq!(
            root.items().at_most(1).err().unwrap().problem,
            Problem::TooMany { limit: 1 }
        );
    }
}
