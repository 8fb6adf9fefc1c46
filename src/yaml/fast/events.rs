//! The event reader: template output read from the general parser's events straight into
//! JSON values, without serde, for mappings of string keys, sequences and scalars whose type
//! is plain to see.

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use super::block::{QUICK_MAX_BYTES, quick_scalar};
use crate::yaml::{AmbiguousScalar, MAX_DEPTH, pos, yaml11_non_string};

/// `documents` for the usual shape of template output, straight from the parser's events:
/// mappings of string keys, sequences, and untagged, unanchored scalars whose type is plain to
/// see (`quick_scalar`). `None` for anything else, malformed text included: serde then decides,
/// with its errors. Parsing every template output through serde was a third of a full render.
/// With `ambiguous`, also collects what `ambiguous_plain_scalars` finds, in the same order.
pub(in crate::yaml) fn plain_documents(
    src: &str,
    mut ambiguous: Option<&mut Vec<AmbiguousScalar>>,
) -> Option<Vec<Value>> {
    enum Frame {
        Seq(Vec<Value>),
        Map(serde_json::Map<String, Value>, Option<String>),
    }
    fn place(stack: &mut [Frame], root: &mut Option<Value>, value: Value) -> Option<()> {
        match stack.last_mut() {
            None if root.is_none() => *root = Some(value),
            None => return None,
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => {
                map.insert(key.take()?, value);
            }
        }
        Some(())
    }
    if src.len() > QUICK_MAX_BYTES {
        return None;
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    for event in Parser::new_from_str(src) {
        let (event, span) = event.ok()?;
        let in_key_position = matches!(stack.last(), Some(Frame::Map(_, None)));
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Comment(..) => {}
            Event::DocumentStart(_, version) => {
                if version.is_some() || root.is_some() || !stack.is_empty() {
                    return None;
                }
            }
            Event::DocumentEnd => match root.take() {
                None | Some(Value::Null) => {}
                Some(v @ Value::Object(_)) => docs.push(v),
                // Not an object: serde's path gives the same error, with its wording.
                Some(_) => return None,
            },
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                let value = if style == ScalarStyle::Plain {
                    let value = quick_scalar(&text)?;
                    if let Some(found) = ambiguous.as_deref_mut()
                        && !in_key_position
                        && let Value::String(s) = &value
                        && let Some(kind) = yaml11_non_string(s)
                    {
                        found.push(AmbiguousScalar {
                            position: pos(&span.start),
                            value: s.clone(),
                            yaml11_type: kind,
                        });
                    }
                    value
                } else {
                    Value::String(text.into_owned())
                };
                if in_key_position {
                    let Value::String(key) = value else {
                        return None;
                    };
                    let Some(Frame::Map(map, slot)) = stack.last_mut() else {
                        return None;
                    };
                    // Merge keys and duplicates are serde's to handle (or refuse).
                    if key == "<<" || map.contains_key(&key) {
                        return None;
                    }
                    *slot = Some(key);
                } else {
                    place(&mut stack, &mut root, value)?;
                }
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() || in_key_position || stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(Vec::new()),
                    _ => Frame::Map(serde_json::Map::new(), None),
                });
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq(items)) = stack.pop() else {
                    return None;
                };
                place(&mut stack, &mut root, Value::Array(items))?;
            }
            Event::MappingEnd => {
                let Some(Frame::Map(map, None)) = stack.pop() else {
                    return None;
                };
                place(&mut stack, &mut root, Value::Object(map))?;
            }
            // Aliases, anchors, and whatever a later parser version adds.
            _ => return None,
        }
    }
    (stack.is_empty() && root.is_none()).then_some(docs)
}
