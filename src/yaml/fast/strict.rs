//! Environment files (and `hadr.lock` indexes) read through the block reader and a strict
//! deserializer of its values, instead of serde-saphyr's deserializer.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::block::block_documents;

/// `from_str` when the block reader reads `src` as one document and `T` takes that document
/// as `Strict` gives it; `None` otherwise. Where it gives a value, it is serde's: the block
/// reader reads as serde does, and `Strict` offers each node only in the form serde-saphyr
/// offers it (see there).
pub(in crate::yaml) fn from_str_quick<T: DeserializeOwned>(src: &str) -> Option<T> {
    // serde-saphyr refuses a second document even when it is empty, which the block reader
    // drops: only a first `---` is left to it.
    let body = src.strip_prefix("---\n").unwrap_or(src);
    if body.starts_with("---") || body.contains("\n---") {
        return None;
    }
    let read = block_documents(src)?;
    let [document]: [Value; 1] = read.documents.try_into().ok()?;
    T::deserialize(Strict(document)).ok()
}

/// A document the block reader read, as a deserializer that offers each node in the one form
/// a YAML text gives it: a mapping only as a map (serde_json's `Value` also lets a struct be
/// read from a sequence), an enum only as a unit variant's name (`Value` also takes a
/// one-key map), an option as none only for null. Everything else is `deserialize_any`,
/// which sees what serde-saphyr's does, as the block reader reads it, so self-describing
/// targets (untagged enums, `flatten`, `Value` fields) get the same content. Stricter than
/// needed is fine: a refusal only sends the text to serde-saphyr.
struct Strict(Value);

type StrictError = serde::de::value::Error;

impl<'de> serde::Deserializer<'de> for Strict {
    type Error = StrictError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        use serde::de::value::{MapDeserializer, SeqDeserializer};
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(n), _) => visitor.visit_u64(n),
                (None, Some(n)) => visitor.visit_i64(n),
                // The block reader reads no floats.
                _ => Err(serde::de::Error::custom("a float")),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(map) => {
                let mut map = MapDeserializer::new(map.into_iter().map(|(k, v)| (k, Strict(v))));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            _ => Err(serde::de::Error::custom("not a mapping")),
        }
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        use serde::de::IntoDeserializer;
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            _ => Err(serde::de::Error::custom("not a variant name")),
        }
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, StrictError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

impl<'de> serde::de::IntoDeserializer<'de, StrictError> for Strict {
    type Deserializer = Strict;

    fn into_deserializer(self) -> Strict {
        self
    }
}
