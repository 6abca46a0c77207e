package evidence

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A document (runbook, rollback procedure, incident plan) passes when it has content and
// names the release version. The version must stand as a word: for 1.2.3, "v1.2.3" and
// "1.2.3." count, "1.2.30", "11.2.3" and "1.2.3-rc1" do not. Each file is checked.

var documentParams = map[string]paramSpec{
	"versionInHeading": {kind: kindBool, def: "true", stricter: Higher, doc: "the version must be named in a heading (Markdown #/setext, AsciiDoc =, HTML <h1>–<h6>), not just anywhere; default true"},
}

// headings are the heading lines of a Markdown, AsciiDoc or HTML document.
func headings(text []byte) [][]byte {
	var out [][]byte
	lines := bytes.Split(text, []byte("\n"))
	for i, raw := range lines {
		line := bytes.TrimSpace(raw)
		switch {
		case bytes.HasPrefix(line, []byte("#")) || bytes.HasPrefix(line, []byte("=")):
			mark := line[0]
			n := len(line) - len(bytes.TrimLeft(line, string(mark)))
			if n <= 6 && n < len(line) && (line[n] == ' ' || line[n] == '\t') {
				out = append(out, line[n:])
			}
		case len(line) > 0 && i+1 < len(lines):
			under := bytes.TrimSpace(lines[i+1])
			if len(under) >= 2 && (len(bytes.Trim(under, "=")) == 0 || len(bytes.Trim(under, "-")) == 0) {
				out = append(out, line) // setext
			}
		}
	}
	// ASCII-only lower case: bytes.ToLower may change the length (invalid UTF-8, special
	// cases), and the offsets below index text too.
	lower := make([]byte, len(text))
	for i, c := range text {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for from := 0; ; {
		i := bytes.Index(lower[from:], []byte("<h"))
		if i < 0 {
			break
		}
		start := from + i
		from = start + 2
		if from >= len(lower) || lower[from] < '1' || lower[from] > '6' {
			continue
		}
		end := bytes.Index(lower[from:], []byte("</h"))
		if end < 0 {
			break
		}
		out = append(out, text[start:from+end])
		from += end
	}
	return out
}

// namesVersionInHeading reports whether a heading of text names version.
func namesVersionInHeading(text []byte, version string) bool {
	for _, h := range headings(text) {
		if NamesVersion(h, version) {
			return true
		}
	}
	return false
}

// NamesVersion reports whether text names version as a whole word, with or without a
// leading "v".
func NamesVersion(text []byte, version string) bool {
	core := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(version), "v"), "V")
	if core == "" {
		return false
	}
	needle := []byte(core)
	for from := 0; ; {
		i := bytes.Index(text[from:], needle)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(needle)
		if versionBoundaryBefore(text, start) && versionBoundaryAfter(text, end) {
			return true
		}
		from = start + 1
	}
}

func versionBoundaryBefore(text []byte, start int) bool {
	if start == 0 {
		return true
	}
	r, size := utf8.DecodeLastRune(text[:start])
	if r == 'v' || r == 'V' {
		// "v1.2.3", but not "dev1.2.3"
		start -= size
		if start == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRune(text[:start])
	}
	return !isWordRune(r) && r != '.'
}

func versionBoundaryAfter(text []byte, end int) bool {
	if end == len(text) {
		return true
	}
	r, size := utf8.DecodeRune(text[end:])
	if isWordRune(r) {
		return false
	}
	if r == '.' || r == '-' || r == '+' {
		// "1.2.3." ends a sentence; "1.2.3.4", "1.2.3-rc1" and "1.2.3+build" are other versions.
		next, _ := utf8.DecodeRune(text[end+size:])
		return end+size == len(text) || !isWordRune(next)
	}
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

func evalDocument(in Input, p params) Result {
	if strings.TrimSpace(in.Version) == "" {
		return errorf("document check needs the release version, and none was given")
	}
	var names []string
	for _, f := range in.Files {
		text, err := evidenceText(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		if len(bytes.TrimSpace(text)) == 0 {
			return failf("%s is empty", f.Name)
		}
		if !NamesVersion(text, in.Version) {
			return failf("%s does not name version %s", f.Name, in.Version)
		}
		if p.bool("versionInHeading") && !namesVersionInHeading(text, in.Version) {
			return failf("%s names version %s, but in no heading (a document for this release says so in a heading)", f.Name, in.Version)
		}
		names = append(names, baseName(f.Name))
	}
	return passf("%s %s version %s", strings.Join(names, ", "), verb(len(names)), in.Version)
}

func verb(n int) string {
	if n == 1 {
		return "names"
	}
	return "name"
}
