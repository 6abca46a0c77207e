package evidence

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// jsonError gives a JSON decoding error the position the decoder knows of.
func jsonError(data []byte, err error, fallbackOffset int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		l, c := lineCol(data, max(syn.Offset-1, 0))
		return posErrorf(l, c, "invalid JSON: %v", err)
	case errors.As(err, &typ):
		l, c := lineCol(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "value"
		}
		return posErrorf(l, c, "field %s: JSON %s where %s was expected", field, typ.Value, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		l, c := lineCol(data, int64(len(data)))
		return posErrorf(l, c, "JSON ends early")
	default:
		l, c := lineCol(data, fallbackOffset)
		return posErrorf(l, c, "invalid JSON: %v", err)
	}
}

// xmlError gives an XML decoding error its line.
func xmlError(dec *xml.Decoder, data []byte, err error) error {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		if syn.Msg == "unexpected EOF" {
			return posErrorf(syn.Line, 0, "invalid XML: the document ends before its elements are closed")
		}
		return posErrorf(syn.Line, 0, "invalid XML: %s", syn.Msg)
	}
	l, c := lineCol(data, dec.InputOffset())
	return posErrorf(l, c, "invalid XML: %v", err)
}
