package evstore

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// EnvStore names the evidence store for the starter and the worker; both must name the same.
const EnvStore = "SHIPGATE_EVIDENCE_STORE"

// DefaultSpec is the embedded stack's store: a directory beside its other data.
const DefaultSpec = "dir:.data/evidence"

// Spec is a parsed store location:
//
//	dir:PATH                                   a local directory (relative to the working directory)
//	s3://BUCKET[/PREFIX][?endpoint=URL&region=R]  an S3-compatible bucket; without endpoint, AWS
//
// It never holds credentials: those come from the environment (AWS SDK chain).
type Spec struct {
	Dir      string
	S3       S3Config
	isS3     bool
	original string
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseSpec parses a store location (see Spec); empty means DefaultSpec.
func ParseSpec(spec string) (Spec, error) {
	if spec == "" {
		spec = DefaultSpec
	}
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("%s: %s", EnvStore, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.HasPrefix(spec, "dir:"):
		dir := strings.TrimPrefix(spec, "dir:")
		if dir == "" || strings.ContainsRune(dir, 0) {
			return bad("dir: needs a directory (e.g. dir:.data/evidence)")
		}
		return Spec{Dir: dir, original: spec}, nil
	case strings.HasPrefix(spec, "s3://"):
		u, err := url.Parse(spec)
		if err != nil {
			return bad("not a URL: %v", err)
		}
		if u.User != nil {
			return bad("credentials do not go in the store's URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile or role)")
		}
		if !bucketRE.MatchString(u.Host) {
			return bad("s3://BUCKET: %q is not a bucket name (3-63 lower-case letters, digits, dots, dashes)", u.Host)
		}
		q := u.Query()
		for k := range q {
			if k != "endpoint" && k != "region" {
				return bad("unknown option %q (want endpoint, region)", k)
			}
		}
		c := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Region: q.Get("region"), Endpoint: q.Get("endpoint")}
		if c.Endpoint != "" {
			e, err := url.Parse(c.Endpoint)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil {
				return bad("endpoint must be an http(s) URL without credentials")
			}
		}
		return Spec{S3: c, isS3: true, original: spec}, nil
	}
	return bad("want dir:PATH or s3://BUCKET[/PREFIX][?endpoint=URL&region=R]")
}

// Open opens the store a spec names.
func (s Spec) Open(ctx context.Context) (Store, error) {
	if s.isS3 {
		return NewS3(ctx, s.S3)
	}
	root, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, err
	}
	return Dir{Root: root}, nil
}

// Open opens the store spec names (see ParseSpec).
func Open(ctx context.Context, spec string) (Store, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return s.Open(ctx)
}
