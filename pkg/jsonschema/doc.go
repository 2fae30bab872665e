// Package jsonschema compiles JSON Schemas and validates JSON documents
// against them: the adapter between hookd's domain (webhook.SchemaValidator)
// and github.com/santhosh-tekuri/jsonschema/v6, which implements drafts 4,
// 6, 7, 2019-09 and 2020-12.
//
// Compiled schemas are cached by the SHA-256 of their bytes, so the same
// schema (an event type's, checked at every publish) is compiled once.
//
// Validate is on the publish path of event types that enforce their
// schema, so it has a fast path for the common case (decode.go, fast.go):
// documents are decoded by a plain scan, and a schema that uses only the
// usual keywords gets a plan, built once, that says "valid" without the
// library. Whatever the fast path is not sure of, an invalid document
// included, goes to the library, which alone writes errors.
// Schemas are untrusted input: a "$ref" may only point inside the schema
// itself or at the drafts' own metaschemas; nothing is loaded from files or
// the network.
package jsonschema
