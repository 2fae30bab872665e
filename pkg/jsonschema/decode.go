package jsonschema

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	js "github.com/santhosh-tekuri/jsonschema/v6"
)

// decode parses a document into what the library validates: the values of
// encoding/json with numbers as json.Number (js.UnmarshalJSON). Payloads
// reach it compact and valid (the API checked them), so a plain scan
// builds the same values in about half the time of encoding/json's
// reflection-driven decoder; anything the scan does not expect (an escape
// in a string, bytes that are not UTF-8, a syntax error, more than
// maxDecodeDepth levels) makes it hand the whole document to
// js.UnmarshalJSON, which stays the judge of what is JSON. A fuzz test
// checks that both give the same values.
func decode(doc []byte) (any, error) {
	d := scanner{b: doc}
	v, ok := d.value(0)
	if ok {
		d.space()
		if d.i == len(d.b) {
			return v, nil
		}
	}
	return js.UnmarshalJSON(bytes.NewReader(doc))
}

// maxDecodeDepth bounds the scan's recursion; deeper documents go to the
// library.
const maxDecodeDepth = 128

type scanner struct {
	b []byte
	i int
}

func (d *scanner) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value scans one value; ok is false when the scan gives up.
func (d *scanner) value(depth int) (any, bool) {
	if depth > maxDecodeDepth {
		return nil, false
	}
	d.space()
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, false
}

func (d *scanner) literal(word string) bool {
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		return false
	}
	d.i += len(word)
	return true
}

func (d *scanner) object(depth int) (any, bool) {
	d.i++ // {
	obj := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return obj, true
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		key, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		obj[key] = v // a repeated key: the last wins, as in encoding/json
		if more, ok := d.next('}'); !more {
			return obj, ok
		}
	}
}

func (d *scanner) array(depth int) (any, bool) {
	d.i++ // [
	arr := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return arr, true
	}
	for {
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		arr = append(arr, v)
		if more, ok := d.next(']'); !more {
			return arr, ok
		}
	}
}

// next scans what follows a member of an object or an element of an
// array: a comma (more follows) or the closing byte (ok, nothing more);
// anything else, or the end of the input, is not ok.
func (d *scanner) next(closing byte) (more, ok bool) {
	d.space()
	if d.i >= len(d.b) {
		return false, false
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return true, true
	case closing:
		d.i++
		return false, true
	}
	return false, false
}

// str scans a string without escapes or control characters, of valid
// UTF-8; anything else gives up.
func (d *scanner) str() (string, bool) {
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			d.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// number scans a number by JSON's grammar and keeps its text.
func (d *scanner) number() (any, bool) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	return json.Number(d.b[start:d.i]), true
}

func (d *scanner) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}
