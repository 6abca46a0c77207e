package release

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is a problem in an input file: where it is and why it is wrong.
type FieldError struct {
	File   string // the file as given by the user
	Line   int    // 1-based; 0 when unknown
	Field  string // dotted path, e.g. gates[0].checks[1].approvals
	Reason string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Reason)
}

// Errors is every problem found in one file, in order of appearance.
type Errors []*FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// maxFileBytes bounds what we read: a policy or manifest is a few KiB.
const maxFileBytes = 1 << 20

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeStrict decodes data into v, refusing unknown fields, and returns the document node
// so validation can point at lines. Errors name the file and line.
func decodeStrict(file string, data []byte, v any) (*yaml.Node, error) {
	if len(data) > maxFileBytes {
		return nil, &FieldError{File: file, Reason: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxFileBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &FieldError{File: file, Reason: "file is empty"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return nil, yamlError(file, err)
	}
	return root.Content[0], nil
}

// yamlError turns the YAML library's messages ("yaml: line 3: field x not found in type ...")
// into FieldErrors with the line split out.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var out Errors
		for _, msg := range te.Errors {
			out = append(out, lineError(file, msg))
		}
		return out
	}
	return lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func lineError(file, msg string) *FieldError {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		reason := strings.ReplaceAll(m[2], "in type release.", "in ")
		return &FieldError{File: file, Line: line, Reason: reason}
	}
	return &FieldError{File: file, Reason: msg}
}

// lineOf finds the line of a dotted field path such as "gates[1].checks[0].type" in a decoded
// document; it returns the line of the deepest part it could find.
func lineOf(n *yaml.Node, path string) int {
	if n == nil {
		return 0
	}
	line := n.Line
	for _, part := range splitPath(path) {
		next := child(n, part)
		if next == nil {
			return line
		}
		n = next
		line = n.Line
	}
	return line
}

func splitPath(path string) []string {
	var parts []string
	for _, p := range strings.Split(path, ".") {
		for p != "" {
			i := strings.IndexByte(p, '[')
			if i < 0 {
				parts = append(parts, p)
				break
			}
			if i > 0 {
				parts = append(parts, p[:i])
			}
			j := strings.IndexByte(p, ']')
			if j < i {
				break
			}
			parts = append(parts, p[i:j+1])
			p = p[j+1:]
		}
	}
	return parts
}

func child(n *yaml.Node, part string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if strings.HasPrefix(part, "[") {
		idx, err := strconv.Atoi(strings.Trim(part, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || idx < 0 || idx >= len(n.Content) {
			// map keys written as [key] (e.g. groups[reviewers])
			return mapValue(n, strings.Trim(part, "[]"))
		}
		return n.Content[idx]
	}
	return mapValue(n, part)
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			// point at the key's line: the value of a block may start lines later
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode {
				return v
			}
			cp := *v
			cp.Line = n.Content[i].Line
			return &cp
		}
	}
	return nil
}

// validator collects FieldErrors against one file.
type validator struct {
	file string
	root *yaml.Node
	errs Errors
}

func (v *validator) addf(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.file, Line: lineOf(v.root, field), Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}
