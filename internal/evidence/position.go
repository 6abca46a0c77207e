package evidence

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// PosError is a parse failure at a place in one evidence file. Line and Column are 1-based;
// zero means the format or the failure gives no such position.
type PosError struct {
	Line, Column int
	Reason       string
}

func (e *PosError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	default:
		return e.Reason
	}
}

func posErrorf(line, col int, format string, args ...any) *PosError {
	return &PosError{Line: line, Column: col, Reason: fmt.Sprintf(format, args...)}
}

// lineCol converts a byte offset in data to a 1-based line and column.
func lineCol(data []byte, offset int64) (int, int) {
	if offset < 0 {
		offset = 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// Error messages never repeat bytes of the file they could not parse (a rule of the
// project: the worker echoes nothing from a file it could not read, which may be anything
// from a secret to terminal escapes). They say where and what was expected. The messages of
// encoding/json and encoding/xml quote the input, so jsonError and xmlError rewrite them.

// jsonError gives a JSON decoding error the position the decoder knows of.
func jsonError(data []byte, err error, fallbackOffset int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		l, c := lineCol(data, max(syn.Offset-1, 0))
		switch msg := syn.Error(); {
		case strings.Contains(msg, "unexpected end of JSON input"):
			return posErrorf(l, c, "JSON ends early")
		case strings.Contains(msg, "after top-level value"):
			return posErrorf(l, c, "invalid JSON: unexpected data after the value")
		}
		return posErrorf(l, c, "invalid JSON: unexpected character")
	case errors.As(err, &typ):
		l, c := lineCol(data, typ.Offset)
		// Field is the path of struct fields (our schema's names, not the file's keys);
		// Value starts with the JSON kind and may go on with the value itself.
		field := typ.Field
		if field == "" {
			field = "value"
		}
		kind, _, _ := strings.Cut(typ.Value, " ")
		return posErrorf(l, c, "field %s: JSON %s where %s was expected", field, kind, jsonKind(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF):
		l, c := lineCol(data, int64(len(data)))
		return posErrorf(l, c, "JSON ends early")
	default:
		l, c := lineCol(data, fallbackOffset)
		return posErrorf(l, c, "invalid JSON")
	}
}

// jsonKind names what a Go type decodes from, in JSON's words (never the Go type's name).
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another value"
}

// xmlError gives an XML decoding error its line.
func xmlError(dec *xml.Decoder, data []byte, err error) error {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		if syn.Msg == "unexpected EOF" {
			return posErrorf(syn.Line, 0, "invalid XML: the document ends before its elements are closed")
		}
		return posErrorf(syn.Line, 0, "invalid XML: %s", xmlReason(syn.Msg))
	}
	l, c := lineCol(data, dec.InputOffset())
	switch {
	case errors.Is(err, errUnsupportedCharset):
		return posErrorf(1, 0, "the XML declaration names an encoding other than UTF-8, ISO-8859-1, windows-1252 or US-ASCII")
	case strings.Contains(err.Error(), "unsupported version"):
		return posErrorf(1, 0, "invalid XML: the XML declaration's version is not 1.0")
	}
	return posErrorf(l, c, "invalid XML")
}

// xmlReason rewrites an encoding/xml syntax error without the names and characters it quotes.
func xmlReason(msg string) string {
	for _, r := range []struct{ prefix, reason string }{
		{"unexpected end element", "an end tag closes no open element"},
		{"element <", "an element is closed by the end tag of another"},
		{"invalid characters between </", "invalid characters in an end tag"},
		{"invalid character entity", "an undefined or malformed entity (only the five predefined XML entities and character references are read)"},
		{"illegal character code", "a character XML does not allow"},
		{"invalid UTF-8", "invalid UTF-8 (declare the encoding the file is in)"},
		{"invalid XML name", "an invalid XML name"},
	} {
		if strings.HasPrefix(msg, r.prefix) {
			return r.reason
		}
	}
	// The remaining messages are fixed words that may end in a quoted piece of markup.
	if i := strings.IndexAny(msg, "<&\"'"); i >= 0 {
		msg = msg[:i]
	}
	if msg = strings.TrimSpace(msg); msg == "" {
		return "malformed markup"
	}
	return msg
}
