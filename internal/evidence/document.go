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

var documentParams = map[string]paramSpec{}

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

func evalDocument(in Input, _ params) Result {
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
