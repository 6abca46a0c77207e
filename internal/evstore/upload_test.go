package evstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The starter's upload: paths relative to the manifest and URLs fetched on the starter's side
// become blobs; the manifest keeps no location; the worker's store holds exactly those bytes.
func TestUploadReplacesLocationsWithBlobs(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"reports/cover.out": "mode: set\nx.go:1.1,2.2 1 1\n", "docs/runbook.md": "# Runbook 1.4.0\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/wiki/rollback" || r.URL.Query().Get("token") != "s3cr3t" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("# Rollback 1.4.0\n"))
	}))
	defer srv.Close()
	manifest := filepath.Join(dir, "release.yaml")
	m := &release.Manifest{Commit: strings.Repeat("a", 40), Evidence: map[string][]string{
		"unit-coverage":      {"reports/cover.out"},
		"runbook":            {"docs/runbook.md"},
		"rollback-procedure": {srv.URL + "/wiki/rollback?token=s3cr3t"},
	}}
	st := evstore.Dir{Root: t.TempDir()}
	if err := evstore.Upload(context.Background(), st, manifest, m, nil); err != nil {
		t.Fatal(err)
	}
	if m.Evidence != nil {
		t.Fatalf("locations left in the manifest: %v", m.Evidence)
	}
	want := map[string]string{"unit-coverage": "reports/cover.out", "runbook": "docs/runbook.md", "rollback-procedure": srv.URL + "/wiki/rollback"}
	for check, name := range want {
		bs := m.Blobs[check]
		if len(bs) != 1 || bs[0].Name != name {
			t.Fatalf("%s: %+v, want one blob named %s", check, bs, name)
		}
		if _, err := st.Get(context.Background(), bs[0]); err != nil {
			t.Fatalf("%s: %v", check, err)
		}
	}
	if err := release.ValidateStored("input", m); err != nil {
		t.Fatal(err)
	}
}

// Every file that cannot be stored is an error naming the manifest, the field, the file and
// the reason, and none echoes a byte of it; nothing is half-uploaded into the manifest.
func TestUploadErrorsNameFieldAndFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.xml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(release.MaxBlobBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeFiles(t, dir, map[string]string{"ok.xml": "SECRET-CONTENT", "sub/keep": ""})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("SECRET-CONTENT"))
	}))
	defer srv.Close()
	manifest := filepath.Join(dir, "release.yaml")
	m := &release.Manifest{Evidence: map[string][]string{
		"a": {"ok.xml", "missing.xml"},
		"b": {"big.xml"},
		"c": {"sub"},
		"d": {srv.URL + "/report?token=SECRET-TOKEN"},
	}}
	err = evstore.Upload(context.Background(), evstore.Dir{Root: t.TempDir()}, manifest, m, nil)
	if err == nil {
		t.Fatal("upload of missing, oversized and non-files succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		manifest + ": evidence[a][1]: missing.xml: no such file",
		manifest + ": evidence[b][0]: big.xml: over the 52428800-byte (50 MiB) evidence limit",
		manifest + ": evidence[c][0]: sub: not a regular file",
		manifest + ": evidence[d][0]: " + srv.URL + "/report: HTTP 403",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "SECRET") {
		t.Errorf("the error echoes a file's bytes or a URL's token:\n%s", msg)
	}
	if m.Blobs != nil || len(m.Evidence) != 4 {
		t.Errorf("a failed upload changed the manifest: %+v", m)
	}
}

func TestUploadArtifacts(t *testing.T) {
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	art := filepath.Join(root, "deployments/examples/demo/contracts/artifacts/standard-output.json")
	m := &release.Manifest{Commit: strings.Repeat("b", 40), Contracts: []release.Contract{{Name: "Counter", Artifact: art, ContractName: "CounterV2",
		Proxy: &release.Proxy{Kind: "uups", Artifact: art, ContractName: "DemoProxy"}}}}
	st := evstore.Dir{Root: t.TempDir()}
	if err := evstore.Upload(context.Background(), st, filepath.Join(dir, "release.yaml"), m, nil); err != nil {
		t.Fatal(err)
	}
	c := m.Contracts[0]
	if c.ArtifactBlob == nil || c.Proxy.ArtifactBlob == nil || c.ArtifactBlob.SHA256 != c.Proxy.ArtifactBlob.SHA256 {
		t.Fatalf("artifact blobs %+v %+v", c.ArtifactBlob, c.Proxy.ArtifactBlob)
	}
	if err := release.ValidateStored("input", m); err != nil {
		t.Fatal(err)
	}
	m.Contracts[0].Artifact = "nope.json"
	m.Contracts[0].ArtifactBlob = nil
	err := evstore.Upload(context.Background(), st, filepath.Join(dir, "release.yaml"), m, nil)
	if err == nil || !strings.Contains(err.Error(), "contracts[0].artifact") {
		t.Fatalf("missing artifact: %v", err)
	}
}

func TestParseSpec(t *testing.T) {
	for spec, want := range map[string]string{
		"":                      "dir .data/evidence",
		"dir:/var/lib/shipgate": "dir /var/lib/shipgate",
		"s3://releases":         "s3 releases  ",
		"s3://releases/shipgate/evidence?endpoint=http://127.0.0.1:9000&region=eu-west-1": "s3 releases shipgate/evidence http://127.0.0.1:9000",
	} {
		s, err := evstore.ParseSpec(spec)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		got := "dir " + s.Dir
		if s.Dir == "" {
			got = "s3 " + s.S3.Bucket + " " + s.S3.Prefix + " " + s.S3.Endpoint
		}
		if got != want {
			t.Errorf("%q: %q, want %q", spec, got, want)
		}
	}
	for spec, want := range map[string]string{
		"/var/lib/x":                     "want dir:PATH or s3://",
		"dir:":                           "needs a directory",
		"s3://AK:SK@releases":            "credentials do not go in the store's URL",
		"s3://Releases":                  "not a bucket name",
		"s3://releases?endpoint=ftp://x": "endpoint must be an http(s) URL",
		"s3://releases?secret=x":         "unknown option",
		"https://example.com/x":          "want dir:PATH or s3://",
	} {
		if _, err := evstore.ParseSpec(spec); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "SK") {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"", "dir:x", "s3://bucket/p?endpoint=http://h:1&region=r", "s3://a:b@c", "s3://b?x=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := evstore.ParseSpec(spec)
		if err != nil {
			return
		}
		if (s.Dir == "") == (s.S3.Bucket == "") {
			t.Fatalf("%q parsed to %+v: want exactly one store", spec, s)
		}
		if e, err := url.Parse(s.S3.Endpoint); s.S3.Endpoint != "" && (err != nil || e.User != nil) {
			t.Fatalf("%q: endpoint %q carries credentials or is no URL", spec, s.S3.Endpoint)
		}
	})
}
