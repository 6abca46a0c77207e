package demosvc

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const validBody = `{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":"production","percent":5}`

func TestDecodeTrafficRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    TrafficRequest
		wantErr string // substring; empty means success
	}{
		{name: "canary 5", body: validBody,
			want: TrafficRequest{"demo", "1.4.0", "1.3.0", "production", 5}},
		{name: "rollback 0", body: `{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":"canary","percent":0}`,
			want: TrafficRequest{"demo", "1.4.0", "1.3.0", "canary", 0}},
		{name: "promote 100 with spaces and field order", body: " {\"percent\":100, \"environment\":\"staging\",\"previousVersion\":\"1.3.0\",\"version\":\"1.4.0-rc.1+b7\",\"service\":\"demo\"}\n",
			want: TrafficRequest{"demo", "1.4.0-rc.1+b7", "1.3.0", "staging", 100}},
		{name: "fractional percent", body: `{"service":"demo","version":"2","previousVersion":"1","environment":"testnet","percent":2.5}`,
			want: TrafficRequest{"demo", "2", "1", "testnet", 2.5}},

		{name: "empty body", body: "  \n", wantErr: "request body is empty"},
		{name: "not JSON", body: `service=demo`, wantErr: "invalid JSON at byte offset 1"},
		{name: "truncated", body: `{"service":"demo",`, wantErr: "ends before the object is complete"},
		{name: "array", body: `[1,2]`, wantErr: "want a JSON object, got a JSON array"},
		{name: "percent as string", body: strings.Replace(validBody, `"percent":5`, `"percent":"5"`, 1), wantErr: "percent: want a JSON number, got a JSON string"},
		{name: "percent missing", body: strings.Replace(validBody, `,"percent":5`, ``, 1), wantErr: "percent: required"},
		{name: "percent null", body: strings.Replace(validBody, `"percent":5`, `"percent":null`, 1), wantErr: "percent: required"},
		{name: "percent negative", body: strings.Replace(validBody, `"percent":5`, `"percent":-1`, 1), wantErr: "percent: must be between 0 and 100, got -1"},
		{name: "percent above 100", body: strings.Replace(validBody, `"percent":5`, `"percent":100.5`, 1), wantErr: "percent: must be between 0 and 100, got 100.5"},
		{name: "percent overflow", body: strings.Replace(validBody, `"percent":5`, `"percent":1e999`, 1), wantErr: "percent: number 1e999 is out of range"},
		{name: "unknown field", body: strings.Replace(validBody, `"previousVersion"`, `"prevVersion"`, 1), wantErr: `unknown field "prevVersion"`},
		{name: "service missing", body: strings.Replace(validBody, `"service":"demo",`, ``, 1), wantErr: "service: required"},
		{name: "version missing", body: strings.Replace(validBody, `"version":"1.4.0",`, ``, 1), wantErr: "version: required"},
		{name: "version with slash", body: strings.Replace(validBody, `"1.4.0"`, `"1.4/0"`, 1), wantErr: `version: "1.4/0" is not a valid name`},
		{name: "version as number", body: strings.Replace(validBody, `"1.4.0"`, `1.4`, 1), wantErr: "version: want a JSON string, got a JSON number"},
		{name: "previousVersion missing", body: strings.Replace(validBody, `"previousVersion":"1.3.0",`, ``, 1), wantErr: "previousVersion: required"},
		{name: "same versions", body: strings.Replace(validBody, `"1.3.0"`, `"1.4.0"`, 1), wantErr: `previousVersion: must differ from version (both are "1.4.0")`},
		{name: "environment missing", body: strings.Replace(validBody, `"environment":"production",`, ``, 1), wantErr: "environment: required; one of staging, testnet, canary, production"},
		{name: "environment unknown", body: strings.Replace(validBody, `"production"`, `"prod"`, 1), wantErr: `environment: "prod" is not one of`},
		{name: "trailing data", body: validBody + ` {}`, wantErr: fmt.Sprintf("unexpected data after the JSON object at byte offset %d", len(validBody))},
		{name: "too large", body: validBody + strings.Repeat(" ", MaxRequestBytes), wantErr: "the limit is 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTrafficRequest([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeTrafficRequest: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSplitApply(t *testing.T) {
	stable := Split{Stable: "1.3.0"}
	req := func(pct float64) TrafficRequest {
		return TrafficRequest{"demo", "1.4.0", "1.3.0", "production", pct}
	}
	tests := []struct {
		name   string
		before Split
		req    TrafficRequest
		want   Split
	}{
		{"first canary step", stable, req(5), Split{"1.3.0", "1.4.0", 5}},
		{"next step", Split{"1.3.0", "1.4.0", 5}, req(25), Split{"1.3.0", "1.4.0", 25}},
		{"promote", Split{"1.3.0", "1.4.0", 25}, req(100), Split{Stable: "1.4.0"}},
		{"rollback during canary", Split{"1.3.0", "1.4.0", 25}, req(0), Split{Stable: "1.3.0"}},
		{"rollback after promote", Split{Stable: "1.4.0"}, req(0), Split{Stable: "1.3.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.before.Apply(tt.req)
			if got != tt.want {
				t.Fatalf("Apply = %+v, want %+v", got, tt.want)
			}
			if err := got.validate("split"); err != nil {
				t.Fatalf("Apply produced an invalid split: %v", err)
			}
		})
	}
}

// TestSplitPickStatistics checks that Pick gives the canary its share: over n picks the
// canary count is binomial, and a correct Pick stays within 5 standard deviations (a chance
// of about 6e-7 to fail with a fresh seed; the seeds here are fixed, so the test is exact).
func TestSplitPickStatistics(t *testing.T) {
	const n = 20_000
	for i, pct := range []float64{1, 5, 25, 50, 99.5} {
		split := Split{Stable: "1.3.0", Canary: "1.4.0", CanaryPercent: pct}
		rng := rand.New(rand.NewPCG(uint64(i)+1, 42))
		canary := 0
		for range n {
			switch split.Pick(rng.Float64()) {
			case "1.4.0":
				canary++
			case "1.3.0":
			default:
				t.Fatal("Pick returned a version that is in neither side of the split")
			}
		}
		p := pct / 100
		mean, sd := n*p, math.Sqrt(n*p*(1-p))
		if math.Abs(float64(canary)-mean) > 5*sd {
			t.Errorf("canary %v%%: %d of %d picks, want %.0f ± %.0f", pct, canary, n, mean, 5*sd)
		}
	}
}

func TestSplitPickEdges(t *testing.T) {
	tests := []struct {
		split Split
		u     float64
		want  string
	}{
		{Split{Stable: "1"}, 0, "1"},
		{Split{"1", "2", 5}, 0, "2"},
		{Split{"1", "2", 5}, 0.0499, "2"},
		{Split{"1", "2", 5}, 0.05, "1"},
		{Split{"1", "2", 5}, 0.9999, "1"},
	}
	for _, tt := range tests {
		if got := tt.split.Pick(tt.u); got != tt.want {
			t.Errorf("%+v.Pick(%v) = %q, want %q", tt.split, tt.u, got, tt.want)
		}
	}
}

func TestDecodeFault(t *testing.T) {
	tests := []struct {
		body    string
		want    Fault
		wantErr string
	}{
		{body: `{"version":"1.4.0","errorRate":0.3,"latencyMs":200}`, want: Fault{"1.4.0", 0.3, 200}},
		{body: `{"version":"1.4.0","latencyMs":60000}`, want: Fault{"1.4.0", 0, 60000}},
		{body: `{"errorRate":0.3}`, wantErr: "version: required"},
		{body: `{"version":"1.4.0","errorRate":30}`, wantErr: "errorRate: must be between 0 and 1 (a fraction, not a percent), got 30"},
		{body: `{"version":"1.4.0","latencyMs":-1}`, wantErr: "latencyMs: must be between 0 and 60000, got -1"},
		{body: `{"version":"1.4.0","latencyMs":1.5}`, wantErr: "latencyMs: want a whole number in range, got number 1.5"},
		{body: `{"version":"1.4.0","latency":5}`, wantErr: `unknown field "latency"`},
		{body: ``, wantErr: "request body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, err := DecodeFault([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("DecodeFault = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeStateFile(t *testing.T) {
	fp := strings.Repeat("a", 64)
	tests := []struct {
		name, body, wantErr string
	}{
		{"valid", `{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1.3.0","canary":"1.4.0","canaryPercent":5}},
			"idempotency":[{"key":"k1","fingerprint":"` + fp + `","status":200,"body":{"a":1}}]}`, ""},
		{"other service", `{"formatVersion":1,"service":"shop","environments":{}}`, `service: the file is for service "shop" but this process serves "demo"`},
		{"format version", `{"formatVersion":2,"service":"demo"}`, "formatVersion: want 1, got 2"},
		{"unknown environment", `{"formatVersion":1,"service":"demo","environments":{"qa":{"stable":"1"}}}`, "environments.qa: not one of"},
		{"canary without percent", `{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1","canary":"2"}}}`, "environments.production.canaryPercent: must be above 0"},
		{"percent without canary", `{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1","canaryPercent":5}}}`, "environments.production.canary: required when canaryPercent is 5"},
		{"percent 100", `{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1","canary":"2","canaryPercent":100}}}`, "canaryPercent: must be at least 0 and below 100"},
		{"duplicate key", `{"formatVersion":1,"service":"demo","idempotency":[{"key":"k","fingerprint":"` + fp + `","status":200,"body":1},{"key":"k","fingerprint":"` + fp + `","status":200,"body":1}]}`, `idempotency[1].key: "k" appears twice`},
		{"bad status", `{"formatVersion":1,"service":"demo","idempotency":[{"key":"k","fingerprint":"` + fp + `","status":500,"body":1}]}`, "idempotency[0].status: want a 2xx status, got 500"},
		{"syntax", `{"formatVersion":1,`, "state file s.json: invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStateFile("s.json", []byte(tt.body), "demo")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decodeStateFile: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "state file s.json: ") {
				t.Fatalf("error = %v, want it to name the file and contain %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzDecodeTrafficRequest(f *testing.F) {
	for _, seed := range []string{
		validBody,
		`{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":"canary","percent":0}`,
		`{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":"production","percent":100.0}`,
		`{"percent":-0}`, `{"percent":1e400}`, `[]`, `null`, `"x"`, `{"service":"\u0000"}`, `{} {}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeTrafficRequest(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted a request that does not validate: %v", err)
		}
		// Accepted requests round-trip and yield a valid split.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTrafficRequest(again)
		if err != nil || back != req {
			t.Fatalf("round trip of %s: got %+v, %v; want %+v", again, back, err, req)
		}
		if err := (Split{Stable: "0"}).Apply(req).validate("split"); err != nil {
			t.Fatalf("applying %+v gives an invalid split: %v", req, err)
		}
	})
}

func FuzzDecodeFault(f *testing.F) {
	for _, seed := range []string{
		`{"version":"1.4.0","errorRate":0.3,"latencyMs":200}`, `{"version":"1","latencyMs":99999999999999999999}`,
		`{"errorRate":"x"}`, `{}`, `[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fault, err := DecodeFault(data)
		if err == nil {
			if err := fault.Validate(); err != nil {
				t.Fatalf("accepted a fault that does not validate: %v", err)
			}
		}
	})
}

func FuzzDecodeStateFile(f *testing.F) {
	fp := strings.Repeat("0", 64)
	for _, seed := range []string{
		`{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1.3.0","canary":"1.4.0","canaryPercent":5}},"idempotency":[{"key":"k1","fingerprint":"` + fp + `","status":200,"body":{}}]}`,
		`{"formatVersion":1,"service":"demo"}`, `{"formatVersion":1,"service":"demo","environments":{"x":{}}}`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := decodeStateFile("fuzz.json", data, "demo")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "state file fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// An accepted file survives being written and read back.
		out, err := json.Marshal(sf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeStateFile("fuzz.json", out, "demo"); err != nil {
			t.Fatalf("re-reading an accepted state file: %v", err)
		}
	})
}
