package evidence

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The one rule on how evidence text is encoded, for every format: files are UTF-8. A
// leading UTF-8 byte-order mark, which .NET tools (xUnit.net, SARIF producers) and Windows
// editors write, is dropped. A UTF-16 or UTF-32 byte-order mark is refused with a clear
// reason rather than read as garbage. XML may also declare ISO-8859-1, windows-1252 or
// US-ASCII (Java and older CI tools write these); xmlDecoder decodes them.

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF32LE = []byte{0xFF, 0xFE, 0x00, 0x00}
	bomUTF32BE = []byte{0x00, 0x00, 0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// evidenceText applies the encoding rule: data without a UTF-8 byte-order mark, or an
// error for a file in another Unicode encoding. Every parser starts with it.
func evidenceText(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		return data[len(bomUTF8):], nil
	case bytes.HasPrefix(data, bomUTF32LE), bytes.HasPrefix(data, bomUTF32BE):
		return nil, posErrorf(1, 1, "the file is UTF-32 (it starts with a UTF-32 byte-order mark): save it as UTF-8")
	case bytes.HasPrefix(data, bomUTF16LE), bytes.HasPrefix(data, bomUTF16BE):
		return nil, posErrorf(1, 1, "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8")
	}
	return data, nil
}

// errUnsupportedCharset is what xmlDecoder's CharsetReader returns for an encoding it does not
// decode; xmlError turns it into a message that does not repeat the declared name.
var errUnsupportedCharset = errors.New("unsupported XML encoding")

// xmlCharsets are the encodings an XML declaration may name besides UTF-8 (which
// encoding/xml reads itself), by their lower-case IANA names and common aliases. Each maps
// a byte to a rune: all are single-byte encodings.
var xmlCharsets = map[string]func(b byte) rune{
	"iso-8859-1": latin1, "iso8859-1": latin1, "iso_8859-1": latin1, "latin1": latin1, "l1": latin1,
	"windows-1252": windows1252, "cp1252": windows1252, "x-cp1252": windows1252,
	"us-ascii": ascii, "ascii": ascii,
}

func latin1(b byte) rune { return rune(b) }

// windows1252 differs from ISO-8859-1 only in 0x80–0x9F; its five unassigned bytes there
// become U+FFFD.
func windows1252(b byte) rune {
	if b >= 0x80 && b <= 0x9F {
		return cp1252High[b-0x80]
	}
	return rune(b)
}

var cp1252High = [32]rune{
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
}

// ascii maps bytes above 0x7F, which US-ASCII does not have, to U+FFFD.
func ascii(b byte) rune {
	if b > 0x7F {
		return utf8.RuneError
	}
	return rune(b)
}

// xmlDecoder is the one XML decoder every XML format uses: strict, decoding the encodings of
// xmlCharsets. encoding/xml never reads a DTD or resolves an external entity (an entity other
// than the five predefined ones is a syntax error), so a report cannot make the worker read a
// file or fetch a URL.
func xmlDecoder(data []byte) *xml.Decoder {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		decode, ok := xmlCharsets[strings.ToLower(strings.TrimSpace(label))]
		if !ok {
			return nil, errUnsupportedCharset
		}
		return &singleByteReader{in: input, decode: decode}, nil
	}
	return dec
}

// singleByteReader decodes a single-byte encoding to UTF-8.
type singleByteReader struct {
	in     io.Reader
	decode func(byte) rune
	buf    []byte // decoded bytes not yet returned
	raw    [512]byte
}

func (r *singleByteReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		n, err := r.in.Read(r.raw[:])
		for _, b := range r.raw[:n] {
			r.buf = utf8.AppendRune(r.buf, r.decode(b))
		}
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
