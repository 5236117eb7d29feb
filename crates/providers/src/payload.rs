//! A read-only view of a JSON object that reports precise field paths in its errors.
//!
//! Every reader treats an absent field and `null` alike, and rejects a present field of the wrong type, so a
//! payload is either read as the provider meant it or refused with the path of the offending field.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ParseError;
use crate::time::parse_time;

#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn root(value: &'a Value) -> Result<Obj<'a>, ParseError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                prefix: String::new(),
            }),
            _ => Err(ParseError::NotAnObject),
        }
    }

    /// The dotted path of `key` inside this object, for error messages.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The raw value, `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn wrong(&self, key: &str, expected: &'static str) -> ParseError {
        ParseError::WrongType {
            field: self.path(key),
            expected,
        }
    }

    /// A string field; an empty string counts as absent.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<&'a str, ParseError> {
        self.str(key)?.ok_or_else(|| ParseError::missing(self.path(key)))
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, ParseError> {
        Ok(self.str(key)?.map(str::to_owned))
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "a boolean")),
        }
    }

    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v) => parse_time(v)
                .map(Some)
                .ok_or_else(|| ParseError::InvalidTimestamp {
                    field: self.path(key),
                }),
        }
    }

    pub(crate) fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, ParseError> {
        match self.map.get_key_value(key) {
            None | Some((_, Value::Null)) => Ok(None),
            Some((_, Value::Object(map))) => Ok(Some(Obj {
                map,
                prefix: self.path(key),
            })),
            Some(_) => Err(self.wrong(key, "an object")),
        }
    }

    pub(crate) fn req_obj(&self, key: &str) -> Result<Obj<'a>, ParseError> {
        self.obj(key)?.ok_or_else(|| ParseError::missing(self.path(key)))
    }

    pub(crate) fn array(&self, key: &str) -> Result<&'a [Value], ParseError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items.as_slice()),
            Some(_) => Err(self.wrong(key, "an array")),
        }
    }

    /// An id given either as a plain string (`"prod_..."`) or as an object with an `id` (`{"id": "prod_..."}`),
    /// as Whop does depending on API version and `expand`.
    pub(crate) fn id_of(&self, key: &str) -> Result<Option<&'a str>, ParseError> {
        match self.get(key) {
            Some(Value::Object(_)) => match self.obj(key)? {
                Some(inner) => inner.str("id"),
                None => Ok(None),
            },
            _ => self.str(key),
        }
    }
}
