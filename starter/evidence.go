package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// evidenceFlag collects recheck's --evidence CHECK=LOCATION in the order given.
type evidenceFlag [][2]string

func (f *evidenceFlag) String() string { return "" }

func (f *evidenceFlag) Set(v string) error {
	check, loc, ok := strings.Cut(v, "=")
	if !ok || check == "" || loc == "" {
		return errors.New("want CHECK=PATH or CHECK=URL")
	}
	*f = append(*f, [2]string{check, loc})
	return nil
}

// upload stores every file named (paths relative to the working directory) the way start
// does and returns the blobs by check.
func (f evidenceFlag) upload(ctx context.Context) (map[string][]release.Blob, error) {
	store, err := evstore.Open(ctx, os.Getenv(evstore.EnvStore))
	if err != nil {
		return nil, err
	}
	m := release.Manifest{Evidence: map[string][]string{}}
	for _, e := range f {
		m.Evidence[e[0]] = append(m.Evidence[e[0]], e[1])
	}
	// Relative to the working directory: the "manifest" is a file in it.
	if err := evstore.Upload(ctx, store, "--evidence", &m, nil); err != nil {
		return nil, err
	}
	return m.Blobs, nil
}
