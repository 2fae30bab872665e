// Package jsonschema compiles JSON Schemas and validates JSON documents
// against them: the adapter between hookd's domain (webhook.SchemaValidator)
// and github.com/santhosh-tekuri/jsonschema/v6, which implements drafts 4,
// 6, 7, 2019-09 and 2020-12.
//
// Compiled schemas are cached by the SHA-256 of their bytes, so the same
// schema (an event type's, checked at every publish) is compiled once.
// Schemas are untrusted input: a "$ref" may only point inside the schema
// itself or at the drafts' own metaschemas; nothing is loaded from files or
// the network.
package jsonschema
