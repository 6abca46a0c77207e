package evstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/release"
)

// Upload is the starter's half of the store: it reads every evidence file and contract
// artifact the manifest at manifestPath names (paths relative to the manifest; an http(s)
// evidence URL is fetched here, on the release manager's side, never by the worker), stores
// each, and replaces the manifest's evidence locations with blobs and sets each contract's
// artifact blob. Errors name the manifest, the field, the file and the reason, never bytes.
// client fetches evidence URLs; nil: a client with a 30-second timeout.
func Upload(ctx context.Context, st Store, manifestPath string, m *release.Manifest, client *http.Client) error {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	dir := filepath.Dir(manifestPath)
	var errs []error
	fail := func(field string, err error) {
		errs = append(errs, &release.FieldError{File: manifestPath, Field: field, Reason: err.Error()})
	}
	put := func(field, name string, data []byte) *release.Blob {
		b := NewBlob(name, data)
		if err := st.Put(ctx, b, data); err != nil {
			fail(field, err)
			return nil
		}
		return &b
	}
	checks := make([]string, 0, len(m.Evidence))
	for c := range m.Evidence {
		checks = append(checks, c)
	}
	sort.Strings(checks)
	blobs := map[string][]release.Blob{}
	for _, check := range checks {
		for i, loc := range m.Evidence[check] {
			field := fmt.Sprintf("evidence[%s][%d]", check, i)
			name, data, err := readLocation(ctx, client, dir, loc)
			if err != nil {
				fail(field, err)
				continue
			}
			if b := put(field, name, data); b != nil {
				blobs[check] = append(blobs[check], *b)
			}
		}
	}
	for i := range m.Contracts {
		c := &m.Contracts[i]
		field := fmt.Sprintf("contracts[%d].artifact", i)
		if name, data, contract, err := readArtifact(dir, c.Artifact, c.ArtifactContract()); err != nil {
			fail(field, err)
		} else if b := put(field, name, data); b != nil {
			c.ArtifactBlob, c.ContractName = b, contract
		}
		if p := c.Proxy; p != nil && p.Artifact != "" {
			field := fmt.Sprintf("contracts[%d].proxy.artifact", i)
			if name, data, contract, err := readArtifact(dir, p.Artifact, p.ArtifactContract()); err != nil {
				fail(field, err)
			} else if b := put(field, name, data); b != nil {
				p.ArtifactBlob, p.ContractName = b, contract
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.Evidence, m.Blobs = nil, blobs
	if len(blobs) == 0 {
		m.Blobs = nil
	}
	return nil
}

// readLocation reads one evidence location: a path relative to dir, or an http(s) URL. It
// returns the name the blob is labelled with: the path as written, or the URL without
// credentials, query or fragment.
func readLocation(ctx context.Context, client *http.Client, dir, loc string) (string, []byte, error) {
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		return fetch(ctx, client, loc)
	}
	data, err := readFile(resolve(dir, loc))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", loc, err)
	}
	return loc, data, nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// readFile reads a regular file of at most release.MaxBlobBytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, errors.New("permission denied")
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return readLimited(f)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, release.MaxBlobBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > release.MaxBlobBytes {
		return nil, fmt.Errorf("over the %d-byte (50 MiB) evidence limit", release.MaxBlobBytes)
	}
	return data, nil
}

func fetch(ctx context.Context, client *http.Client, loc string) (string, []byte, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "", nil, errors.New("not a valid URL")
	}
	label := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return label, nil, fmt.Errorf("%s: %w", label, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return label, nil, fmt.Errorf("%s: fetching: %v", label, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return label, nil, fmt.Errorf("%s: HTTP %d", label, resp.StatusCode)
	}
	data, err := readLimited(resp.Body)
	if err != nil {
		return label, nil, fmt.Errorf("%s: %w", label, err)
	}
	return label, data, nil
}

// readArtifact reads a contract artifact. A Hardhat per-contract artifact whose build-info
// holds its immutables and storage layout is replaced by that build-info (selecting the
// contract as Source:Name), so the worker has everything from one blob.
func readArtifact(dir, p, contract string) (name string, data []byte, contractOut string, err error) {
	file, contractOut, err := chain.ArtifactFile(resolve(dir, p), contract)
	if err != nil {
		return "", nil, "", err
	}
	data, err = readFile(file)
	if err != nil {
		return "", nil, "", fmt.Errorf("%s: %w", p, err)
	}
	name = p
	if rel, rerr := filepath.Rel(dir, file); rerr == nil && file != resolve(dir, p) {
		name = filepath.ToSlash(rel)
	}
	return name, data, contractOut, nil
}

// Load is release.Load followed by Upload: the input a caller that holds the policy file (the
// embedded stack, tests) starts a release with, its files in the store.
func Load(ctx context.Context, st Store, manifestPath, policyPath string, types release.CheckTypes) (release.Input, *release.Policy, error) {
	in, pol, err := release.Load(manifestPath, policyPath, types)
	if err != nil {
		return in, nil, err
	}
	if err := Upload(ctx, st, manifestPath, &in.Manifest, nil); err != nil {
		return in, nil, err
	}
	return in, pol, nil
}

// PutFile stores the file at path under the label name (tests and tools).
func PutFile(ctx context.Context, st Store, name, path string) (release.Blob, error) {
	data, err := readFile(path)
	if err != nil {
		return release.Blob{}, fmt.Errorf("%s: %w", name, err)
	}
	b := NewBlob(name, data)
	return b, st.Put(ctx, b, data)
}
