package demosvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// stateFormatVersion is written into every state file so that a later layout can be told apart.
const stateFormatVersion = 1

// maxIdempotencyRecords bounds the remembered Idempotency-Keys (oldest forgotten first). A
// release makes a handful of traffic calls, so this covers hundreds of releases.
const maxIdempotencyRecords = 1000

// State is the traffic state of the service, as GET /v1/traffic returns it.
type State struct {
	Service string `json:"service"`
	// RouterEnvironment is the environment whose split GET / and /svc/ follow.
	RouterEnvironment string           `json:"routerEnvironment"`
	Environments      map[string]Split `json:"environments"`
}

// idempotencyRecord is the recorded answer to one Idempotency-Key.
type idempotencyRecord struct {
	Key string `json:"key"`
	// Fingerprint is the SHA-256 of the decoded request, so a retry that re-encodes the same
	// request differently (spacing, field order) still counts as the same request.
	Fingerprint string          `json:"fingerprint"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
}

// stateFile is the layout of the --state file: the splits and the idempotency records, so
// that a restart keeps both the traffic split and the replay answers.
type stateFile struct {
	FormatVersion int                 `json:"formatVersion"`
	Service       string              `json:"service"`
	Environments  map[string]Split    `json:"environments"`
	Idempotency   []idempotencyRecord `json:"idempotency"`
}

// decodeStateFile parses and validates a state file's bytes. name is the file's path, used
// in errors; service is the service this process serves, which the file must be for.
func decodeStateFile(name string, data []byte, service string) (stateFile, error) {
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return stateFile{}, fmt.Errorf("state file %s: %w", name, describeJSONError(err))
	}
	if off := dec.InputOffset(); hasTrailingData(dec) {
		return stateFile{}, fmt.Errorf("state file %s: unexpected data after the JSON object at byte offset %d", name, off)
	}
	if err := f.validate(service); err != nil {
		return stateFile{}, fmt.Errorf("state file %s: %w", name, err)
	}
	// The file is indented for people; replays must send the bytes first sent.
	for i, rec := range f.Idempotency {
		var buf bytes.Buffer
		if err := json.Compact(&buf, rec.Body); err != nil {
			return stateFile{}, fmt.Errorf("state file %s: idempotency[%d].body: %w", name, i, err)
		}
		f.Idempotency[i].Body = buf.Bytes()
	}
	return f, nil
}

func (f stateFile) validate(service string) error {
	if f.FormatVersion != stateFormatVersion {
		return &FieldError{"formatVersion", fmt.Sprintf("want %d, got %d", stateFormatVersion, f.FormatVersion)}
	}
	if f.Service != service {
		return &FieldError{"service", fmt.Sprintf("the file is for service %q but this process serves %q", f.Service, service)}
	}
	for env, split := range f.Environments {
		if !slices.Contains(Environments, env) {
			return &FieldError{"environments." + env, "not one of " + strings.Join(Environments, ", ")}
		}
		if err := split.validate("environments." + env); err != nil {
			return err
		}
	}
	if len(f.Idempotency) > maxIdempotencyRecords {
		return &FieldError{"idempotency", fmt.Sprintf("%d records; at most %d are kept", len(f.Idempotency), maxIdempotencyRecords)}
	}
	seen := make(map[string]bool, len(f.Idempotency))
	for i, rec := range f.Idempotency {
		field := fmt.Sprintf("idempotency[%d]", i)
		switch {
		case checkIdempotencyKey(rec.Key) != nil:
			return &FieldError{field + ".key", checkIdempotencyKey(rec.Key).Error()}
		case seen[rec.Key]:
			return &FieldError{field + ".key", fmt.Sprintf("%q appears twice", rec.Key)}
		case len(rec.Fingerprint) != 64:
			return &FieldError{field + ".fingerprint", "want 64 hex digits (SHA-256)"}
		case rec.Status < 200 || rec.Status > 299:
			return &FieldError{field + ".status", fmt.Sprintf("want a 2xx status, got %d", rec.Status)}
		case len(rec.Body) == 0:
			return &FieldError{field + ".body", "required"}
		}
		seen[rec.Key] = true
	}
	return nil
}

// checkIdempotencyKey refuses keys that are empty, overlong or not printable ASCII.
func checkIdempotencyKey(key string) error {
	if key == "" {
		return errors.New("the Idempotency-Key header is required")
	}
	if len(key) > 255 {
		return fmt.Errorf("the Idempotency-Key is %d bytes; at most 255", len(key))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return fmt.Errorf("the Idempotency-Key has a byte 0x%02x at position %d; only printable ASCII without spaces is allowed", key[i], i)
		}
	}
	return nil
}

// readStateFile loads the state file at path; found is false when it does not exist yet.
func readStateFile(path, service string) (f stateFile, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateFile{}, false, nil
	}
	if err != nil {
		return stateFile{}, false, fmt.Errorf("reading state file: %w", err)
	}
	f, err = decodeStateFile(path, data, service)
	return f, err == nil, err
}

// writeStateFile replaces the file at path atomically (write a temporary file, then
// rename), so a crash mid-write never leaves a half-written state behind.
func writeStateFile(path string, f stateFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the directory of state file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	return nil
}
