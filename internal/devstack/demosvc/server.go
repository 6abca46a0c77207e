package demosvc

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Config configures a Server.
type Config struct {
	// Service is the service name this process plays; webhook calls for another are refused.
	Service string
	// InitialVersion is the stable version of every environment the state file does not know.
	InitialVersion string
	// Environment is the environment whose split the router (GET /, /svc/...) follows.
	Environment string
	// StatePath is the JSON file that keeps the splits across restarts; empty keeps them in
	// memory only.
	StatePath string
	// Logger gets one line per traffic change and fault change; nil logs nothing.
	Logger *zap.Logger
}

// Server is the demo service: webhook, router, fault switch and metrics, behind Handler.
type Server struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics

	mu       sync.RWMutex // guards envs, idem* and steps
	envs     map[string]Split
	idem     map[string]idempotencyRecord
	idemKeys []string // oldest first, for eviction
	steps    StepLog

	faultsMu      sync.RWMutex // guards faults and trafficFaults
	faults        map[string]Fault
	trafficFaults []TrafficFault
}

// TrafficResult is the answer to an applied traffic request: the environment's new split.
type TrafficResult struct {
	Environment string `json:"environment"`
	Split
}

// New builds a Server, reading cfg.StatePath when it exists.
func New(cfg Config) (*Server, error) {
	if err := checkName("service", cfg.Service); err != nil {
		return nil, fmt.Errorf("demo service config: %w", err)
	}
	if err := checkName("initial version", cfg.InitialVersion); err != nil {
		return nil, fmt.Errorf("demo service config: %w", err)
	}
	if !slices.Contains(Environments, cfg.Environment) {
		return nil, fmt.Errorf("demo service config: environment %q is not one of %v", cfg.Environment, Environments)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(),
		envs:    make(map[string]Split),
		idem:    make(map[string]idempotencyRecord),
		faults:  make(map[string]Fault),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if cfg.StatePath != "" {
		f, _, err := readStateFile(cfg.StatePath, cfg.Service)
		if err != nil {
			return nil, err
		}
		maps.Copy(s.envs, f.Environments)
		for _, rec := range f.Idempotency {
			s.idem[rec.Key] = rec
			s.idemKeys = append(s.idemKeys, rec.Key)
		}
	}
	for _, env := range Environments {
		if _, ok := s.envs[env]; !ok {
			s.envs[env] = Split{Stable: cfg.InitialVersion}
		}
		s.metrics.setSplit(env, s.envs[env])
	}
	return s, nil
}

// Handler serves every endpoint:
//
//	POST /v1/traffic             apply a webhook traffic request (Idempotency-Key required)
//	GET  /v1/traffic             the current State
//	GET  /v1/faults              the active faults
//	POST /v1/faults              set a Fault for one version
//	DELETE /v1/faults/{version}  clear it
//	GET  /v1/traffic/steps       the StepLog: keys and requests per applied step, refusals
//	GET  /v1/traffic/faults      the active TrafficFaults
//	POST /v1/traffic/faults      make the webhook refuse one step (TrafficFault)
//	DELETE /v1/traffic/faults    clear every TrafficFault
//	GET  /metrics, GET /healthz
//	GET  /  and  /svc/...        the routed service traffic
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traffic", s.handleApplyTraffic)
	mux.HandleFunc("GET /v1/traffic", s.handleGetTraffic)
	mux.HandleFunc("GET /v1/faults", s.handleGetFaults)
	mux.HandleFunc("POST /v1/faults", s.handleSetFault)
	mux.HandleFunc("DELETE /v1/faults/{version}", s.handleClearFault)
	mux.HandleFunc("GET /v1/traffic/steps", s.handleGetSteps)
	mux.HandleFunc("GET /v1/traffic/faults", s.handleGetTrafficFaults)
	mux.HandleFunc("POST /v1/traffic/faults", s.handleSetTrafficFault)
	mux.HandleFunc("DELETE /v1/traffic/faults", s.handleClearTrafficFaults)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", s.handleRoute)
	mux.HandleFunc("/svc/", s.handleRoute)
	return mux
}

// State returns a copy of the current traffic state.
func (s *Server) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return State{Service: s.cfg.Service, RouterEnvironment: s.cfg.Environment, Environments: maps.Clone(s.envs)}
}

// Serve answers on ln until ctx is done, then shuts down gracefully: it stops accepting,
// lets requests in flight finish (for up to 10 s) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("demo service on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down demo service on %s: %w", ln.Addr(), err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo service on %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) handleApplyTraffic(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if err := checkIdempotencyKey(key); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	req, err := DecodeTrafficRequest(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Service != s.cfg.Service {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("service: this demo service serves %q, not %q", s.cfg.Service, req.Service))
		return
	}
	if f, ok := s.takeTrafficFault(req, key); ok {
		httpError(w, f.Status, fmt.Sprintf("injected traffic fault: %s to %g %% refused with %d", req.Environment, req.Percent, f.Status))
		return
	}
	status, answer, replayed := s.apply(key, req)
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if status/100 != 2 {
		httpError(w, status, string(answer))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(answer)
}

// apply applies req under key unless key was seen: then it replays the recorded answer when
// the request is the same, or refuses with 409 when it is not. The state file is written
// before memory changes, so a failed write leaves the split as it was.
func (s *Server) apply(key string, req TrafficRequest) (status int, answer []byte, replayed bool) {
	fingerprint := fingerprintOf(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.idem[key]; ok {
		if rec.Fingerprint != fingerprint {
			return http.StatusConflict, fmt.Appendf(nil,
				"Idempotency-Key %q was already used for a different traffic request; use a new key for a new request", key), false
		}
		s.steps.record(req, false, time.Now())
		return rec.Status, rec.Body, true
	}
	before := s.envs[req.Environment]
	after := before.Apply(req)
	answer, err := json.Marshal(TrafficResult{Environment: req.Environment, Split: after})
	if err != nil {
		return http.StatusInternalServerError, []byte("encoding the answer: " + err.Error()), false
	}
	rec := idempotencyRecord{Key: key, Fingerprint: fingerprint, Status: http.StatusOK, Body: answer}
	envs := maps.Clone(s.envs)
	envs[req.Environment] = after
	keys := append(slices.Clone(s.idemKeys), key)
	var evicted []string
	if len(keys) > maxIdempotencyRecords {
		evicted, keys = keys[:len(keys)-maxIdempotencyRecords], keys[len(keys)-maxIdempotencyRecords:]
	}
	if s.cfg.StatePath != "" {
		if err := writeStateFile(s.cfg.StatePath, s.fileFor(envs, keys, rec)); err != nil {
			return http.StatusInternalServerError, []byte(err.Error()), false
		}
	}
	s.envs, s.idemKeys = envs, keys
	s.idem[key] = rec
	for _, k := range evicted {
		delete(s.idem, k)
	}
	s.metrics.setSplit(req.Environment, after)
	s.steps.record(req, true, time.Now())
	s.log.Info("traffic changed",
		zap.String("environment", req.Environment), zap.String("idempotencyKey", key),
		zap.String("stable", after.Stable), zap.String("canary", after.Canary),
		zap.Float64("canaryPercent", after.CanaryPercent))
	return http.StatusOK, answer, false
}

// fileFor builds the state file for the given splits and keys; rec is the record being added.
func (s *Server) fileFor(envs map[string]Split, keys []string, rec idempotencyRecord) stateFile {
	f := stateFile{FormatVersion: stateFormatVersion, Service: s.cfg.Service, Environments: envs,
		Idempotency: make([]idempotencyRecord, 0, len(keys))}
	for _, k := range keys {
		if k == rec.Key {
			f.Idempotency = append(f.Idempotency, rec)
		} else {
			f.Idempotency = append(f.Idempotency, s.idem[k])
		}
	}
	return f
}

// fingerprintOf hashes the decoded request, not the raw body, so that a retry's encoding
// details (spacing, field order, 5 vs 5.0) do not matter.
func fingerprintOf(req TrafficRequest) string {
	data, _ := json.Marshal(req) // a struct of strings and a validated float cannot fail
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (s *Server) handleGetTraffic(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	s.faultsMu.RLock()
	faults := slices.SortedFunc(maps.Values(s.faults), func(a, b Fault) int {
		return cmp.Compare(a.Version, b.Version)
	})
	s.faultsMu.RUnlock()
	writeJSON(w, http.StatusOK, map[string][]Fault{"faults": faults})
}

func (s *Server) handleSetFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	f, err := DecodeFault(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.faultsMu.Lock()
	s.faults[f.Version] = f
	s.faultsMu.Unlock()
	s.log.Info("fault set", zap.String("version", f.Version),
		zap.Float64("errorRate", f.ErrorRate), zap.Int("latencyMs", f.LatencyMs))
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleClearFault(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	s.faultsMu.Lock()
	_, ok := s.faults[version]
	delete(s.faults, version)
	s.faultsMu.Unlock()
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no fault is set for version %q", version))
		return
	}
	s.log.Info("fault cleared", zap.String("version", version))
	w.WriteHeader(http.StatusNoContent)
}

// Steps returns a copy of the step log.
func (s *Server) Steps() StepLog {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return StepLog{Steps: slices.Clone(s.steps.Steps), Refusals: slices.Clone(s.steps.Refusals)}
}

func (s *Server) handleGetSteps(w http.ResponseWriter, _ *http.Request) {
	l := s.Steps()
	if l.Steps == nil {
		l.Steps = []Step{}
	}
	if l.Refusals == nil {
		l.Refusals = []Refusal{}
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) handleGetTrafficFaults(w http.ResponseWriter, _ *http.Request) {
	s.faultsMu.RLock()
	faults := append([]TrafficFault{}, s.trafficFaults...)
	s.faultsMu.RUnlock()
	writeJSON(w, http.StatusOK, map[string][]TrafficFault{"faults": faults})
}

func (s *Server) handleSetTrafficFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return
	}
	f, err := DecodeTrafficFault(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.faultsMu.Lock()
	s.trafficFaults = slices.DeleteFunc(s.trafficFaults, func(o TrafficFault) bool {
		return o.Environment == f.Environment && o.Percent == f.Percent
	})
	s.trafficFaults = append(s.trafficFaults, f)
	s.faultsMu.Unlock()
	s.log.Info("traffic fault set", zap.String("environment", f.Environment), zap.Float64("percent", f.Percent),
		zap.Int("status", f.Status), zap.Int("times", f.Times))
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleClearTrafficFaults(w http.ResponseWriter, _ *http.Request) {
	s.faultsMu.Lock()
	s.trafficFaults = nil
	s.faultsMu.Unlock()
	s.log.Info("traffic faults cleared")
	w.WriteHeader(http.StatusNoContent)
}

// takeTrafficFault reports whether an injected fault refuses req, spending one of its times,
// and logs the refusal.
func (s *Server) takeTrafficFault(req TrafficRequest, key string) (TrafficFault, bool) {
	s.faultsMu.Lock()
	i := slices.IndexFunc(s.trafficFaults, func(f TrafficFault) bool { return f.matches(req) })
	if i < 0 {
		s.faultsMu.Unlock()
		return TrafficFault{}, false
	}
	f := s.trafficFaults[i]
	if f.Times > 0 {
		if s.trafficFaults[i].Times--; s.trafficFaults[i].Times == 0 {
			s.trafficFaults = slices.Delete(s.trafficFaults, i, i+1)
		}
	}
	s.faultsMu.Unlock()
	s.mu.Lock()
	s.steps.refuse(Refusal{TrafficRequest: req, IdempotencyKey: key, Status: f.Status, At: time.Now()})
	s.mu.Unlock()
	s.log.Info("traffic refused by an injected fault", zap.String("environment", req.Environment),
		zap.Float64("percent", req.Percent), zap.String("idempotencyKey", key), zap.Int("status", f.Status))
	return f, true
}

func (s *Server) fault(version string) (Fault, bool) {
	s.faultsMu.RLock()
	defer s.faultsMu.RUnlock()
	f, ok := s.faults[version]
	return f, ok
}

// httpError answers with a plain-text reason: shipgate's webhook client shows a non-2xx
// body verbatim as the reason the call failed.
func httpError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		httpError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}
