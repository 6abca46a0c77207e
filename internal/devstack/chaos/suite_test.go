package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

var (
	runChaos  = flag.Bool("chaos", false, "run the chaos suite (go tool task chaos)")
	kills     = flag.Int("kills", 20, "worker SIGKILLs during the worker-kill release")
	seedFlag  = flag.Int64("seed", 0, "random seed (0: from the clock); printed, so that a failure can be rerun")
	sample    = flag.Int("sample", 0, "traffic-fault steps, cancel stages and cancel-switch chains to try, picked by the seed (0: every one)")
	recordAs  = flag.String("record-history", "", "write the history of the first cancel-switch release to workflows/testdata/histories/NAME (for replay tests)")
	scenarios = flag.String("scenarios", "worker-kill,server-kill,traffic-fault,cancel,cancel-switch", "the scenarios to run, comma-separated")
	onCluster = flag.Bool("cluster", false, "run the suite on the cluster (the Temporal server on PostgreSQL) instead of the dev server")
)

// The steps a release makes at the backend under the chaos policy: staging and testnet
// deploys, the 5 % canary, then 10, 25 and 100 % of production.
var allSteps = []StepID{{"staging", 100}, {"testnet", 100}, {"production", 5}, {"production", 10}, {"production", 25}, {"production", 100}}

var rollbackStep = StepID{"production", 0}

// killStages are the stages the worker-kill scenario spreads its kills over.
var killStages = []release.Stage{release.StageDevelopment, release.StageStaging, release.StageTestnet, release.StageCanary, release.StageProduction}

func TestChaos(t *testing.T) {
	if !*runChaos {
		t.Skip("the chaos suite runs with -chaos: go tool task chaos")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	on := ""
	if *onCluster {
		on = " -cluster"
	}
	fmt.Printf("chaos: seed %d (rerun: go tool task chaos -- -seed %d -kills %d -sample %d -scenarios %s%s)\n", seed, seed, *kills, *sample, *scenarios, on)
	su := &suite{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 0)), live: "1.3.0"}
	begin := time.Now()
	o := stackOptions{cluster: *onCluster}
	if o.cluster {
		o.workers = 2 // as production runs it: the worker-kill scenario kills the first, the second carries on
	}
	su.s = newStack(t, o)
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupt)
	go func() {
		if _, ok := <-interrupt; ok {
			su.s.interrupted()
		}
	}()
	server := "dev server"
	if su.s.cluster != nil {
		server = "cluster frontend"
	}
	fmt.Printf("chaos: stack up in %s (%s %s, chains %s and %s, demo service %s, worker log dir %s)\n",
		time.Since(begin).Round(time.Second), server, su.s.temporal.Address, su.s.testnet.RPC, su.s.mainnet.RPC, su.s.demoURL, su.s.dir)
	want := strings.Split(*scenarios, ",")
	// The worker-kill release is the suite's first: it deploys v1 of the demo counter behind
	// its proxy on both chains; every later release with contracts upgrades that proxy to v2
	// and must leave it on v1 again.
	if slices.Contains(want, "worker-kill") {
		su.add(su.workerKill(*kills))
	} else {
		su.add(su.baseline())
	}
	if slices.Contains(want, "server-kill") {
		su.add(su.serverKill())
	}
	if slices.Contains(want, "traffic-fault") {
		for i, step := range pick(su.rng, allSteps, *sample) {
			su.add(su.trafficFault(i, step))
		}
	}
	if slices.Contains(want, "cancel") {
		stages := []release.Stage{release.StageStaging, release.StageTestnet, release.StageCanary, release.StageProduction}
		for i, stage := range pick(su.rng, stages, *sample) {
			su.add(su.cancel(i, stage))
		}
	}
	if slices.Contains(want, "cancel-switch") {
		for i, ch := range pick(su.rng, []string{"testnet", "mainnet"}, *sample) {
			su.add(su.cancelSwitch(i, ch))
		}
	}
	fmt.Printf("\nchaos suite: %s in all\n", time.Since(begin).Round(time.Second))
	WriteTable(os.Stdout, seed, su.runs)
	for _, r := range su.runs {
		if !r.Passed() {
			t.Errorf("%s: %s failed (logs in %s)", r.Scenario, r.Name, su.s.dir)
		}
	}
}

// suite is the state one chaos run carries from release to release.
type suite struct {
	t    *testing.T
	s    *stack
	rng  *rand.Rand
	runs []Run
	// live is the version production runs; the next release goes from it.
	live string
	// resume makes follow resume a release its analysis paused for a person; resumed counts it.
	resume  bool
	resumed int
	// proxies are the demo counter's proxy on each chain and the implementation it must be on
	// whenever no release holds it (v1).
	proxies map[string][2]common.Address
}

func (su *suite) add(r Run) {
	res := "pass"
	if !r.Passed() {
		res = "FAIL: " + strings.Join(r.Problems, "; ")
	}
	fmt.Printf("chaos: %s: %s: %s in %s %s\n", r.Scenario, r.Name, res, r.Duration.Round(100*time.Millisecond), r.Note)
	su.runs = append(su.runs, r)
}

// pick returns every element of all, or *sample of them picked by the seed.
func pick[T any](rng *rand.Rand, all []T, n int) []T {
	if n <= 0 || n >= len(all) {
		return all
	}
	idx := rng.Perm(len(all))[:n]
	slices.Sort(idx)
	out := make([]T, 0, n)
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

// between is a random duration in [lo, hi).
func (su *suite) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(su.rng.Int64N(int64(hi-lo)))
}

// contractsMode says what a release does on chain: nothing, deploy v1 behind a new proxy, or
// upgrade the proxy to v2.
type contractsMode int

const (
	noContracts contractsMode = iota
	firstContracts
	upgradeContracts
)

// release writes a release of the demo service (version, from the live version) with the
// demo's evidence and documents naming the version, and loads it under the worker's policy.
func (su *suite) release(version, policy string, mode contractsMode) (devstack.Release, error) {
	s := su.s
	dir, err := os.MkdirTemp(s.dir, "release-"+version+"-")
	if err != nil {
		return devstack.Release{}, err
	}
	demo := filepath.Join(s.root, "deployments/examples/demo")
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		return devstack.Release{}, err
	}
	for _, doc := range []string{"runbook.md", "rollback.md"} {
		b, err := os.ReadFile(filepath.Join(demo, "docs", doc))
		if err != nil {
			return devstack.Release{}, err
		}
		text := strings.ReplaceAll(strings.ReplaceAll(string(b), "1.3.0", su.live), "1.4.0", version)
		if err := os.WriteFile(filepath.Join(dir, "docs", doc), []byte(text), 0o644); err != nil {
			return devstack.Release{}, err
		}
	}
	m, err := os.ReadFile(filepath.Join(demo, "release.yaml"))
	if err != nil {
		return devstack.Release{}, err
	}
	ms, _, _ := strings.Cut(string(m), "\n# The demo's upgradeable counter")
	ms = strings.Replace(ms, "version: 1.4.0", "version: "+version, 1)
	ms = strings.Replace(ms, "previousVersion: 1.3.0", "previousVersion: "+su.live, 1)
	ms = strings.ReplaceAll(ms, "[evidence/", "["+filepath.Join(demo, "evidence")+"/")
	art := filepath.Join(demo, "contracts/artifacts/standard-output.json")
	switch mode {
	case noContracts:
		ms = strings.Replace(ms, "contracts: true", "contracts: false", 1)
	case firstContracts:
		ms += fmt.Sprintf("contracts:\n  - name: Counter\n    artifact: %[1]s\n    contractName: CounterV1\n"+
			"    proxy: {kind: uups, initializer: initialize, initArgs: [\"%[2]s\", \"5\"], artifact: %[1]s, contractName: DemoProxy}\n",
			art, s.key.Address.Hex())
	case upgradeContracts:
		ms += fmt.Sprintf("contracts:\n  - name: Counter\n    artifact: %s\n    contractName: CounterV2\n    proxy: {kind: uups}\n", art)
	}
	manifest := filepath.Join(dir, "release.yaml")
	if err := os.WriteFile(manifest, []byte(ms), 0o644); err != nil {
		return devstack.Release{}, err
	}
	in, pol, err := release.Load(manifest, filepath.Join(s.polDir, policy+".yaml"), checks.Validate)
	if err != nil {
		return devstack.Release{}, err
	}
	if err := chain.CheckContracts(manifest, in.Manifest.Contracts); err != nil {
		return devstack.Release{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := evstore.Open(ctx, s.evidence())
	if err != nil {
		return devstack.Release{}, err
	}
	if err := evstore.Upload(ctx, store, manifest, &in.Manifest, nil); err != nil {
		return devstack.Release{}, err
	}
	return devstack.Release{In: in, Policy: pol, Keys: s.keys}, nil
}

// start starts a release signed by a release manager.
func (su *suite) start(r devstack.Release) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return r.Start(ctx, su.s.c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
}

// follow reads the release's status until it ends, letting the demo approvers sign off
// (through the signed decide update, as people do with the CLI) and calling watch with every
// status it reads. Status and approvals fail while the worker or the server is down: it
// keeps trying, as a person would.
func (su *suite) follow(r devstack.Release, timeout time.Duration, watch func(release.Status)) (release.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	id := r.In.Manifest.ID()
	sent := map[string]bool{}
	var last release.Status
	for {
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := control.Status(qctx, su.s.c, id)
		qcancel()
		if err == nil {
			last = st
			if watch != nil {
				watch(st)
			}
			if st.State.Final() {
				return st, nil
			}
			actx, acancel := context.WithTimeout(ctx, 20*time.Second)
			_, _ = devstack.Approvers(actx, su.s.c, r, st, sent) // what failed is sent again next round
			if su.resume && st.State == release.StatePaused {
				// the analysis asked for a person (no interval could finish while the worker
				// was dead): an operator looks and resumes, as the README says to
				if e, err := r.Send(actx, su.s.c, release.SignalResume, release.Command{Actor: "oc-cy", Channel: release.ChannelCLI,
					Reason: "chaos: the analysis lost its intervals to worker kills"}); err == nil && e.Accepted {
					su.resumed++
				}
			}
			acancel()
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("release %s did not end within %s: last seen %s/%s waiting for %v (%s)", id, timeout, last.Stage, last.State, last.WaitingFor, last.Reason)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (su *suite) nonces() (map[string]uint64, error) {
	out := map[string]uint64{}
	for name, ch := range map[string]*devstack.Chain{"testnet": su.s.testnet, "mainnet": su.s.mainnet} {
		n, err := su.s.nonce(ch)
		if err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

// checkTransactions compares the transactions the deployer had mined during a release with
// the release's contract steps: every transaction mined is one the release signed (the
// audit's contract-tx-signed entries, one nonce per step however often a step was retried),
// and every step its status lists as confirmed was mined. A step a way out cut short may have
// been signed and mined without being listed: it still counts once. want (per chain, -1 for
// any) is the count the release should have made.
func (su *suite) checkTransactions(st release.Status, before map[string]uint64, want int) (problems []string, note string) {
	after, err := su.nonces()
	if err != nil {
		return []string{"reading nonces: " + err.Error()}, ""
	}
	var notes []string
	for _, name := range []string{"testnet", "mainnet"} {
		listed := map[uint64]bool{}
		for _, d := range st.Contracts {
			if d.Chain == name {
				if listed[d.Nonce] {
					problems = append(problems, fmt.Sprintf("%s: two contract steps list nonce %d", name, d.Nonce))
				}
				listed[d.Nonce] = true
			}
		}
		signed := map[uint64]string{} // nonce → step
		for _, a := range st.Audit {
			var hash string
			var nonce uint64
			if a.Action != "contract-tx-signed" || !strings.HasSuffix(a.Target, " on "+name) {
				continue
			}
			if _, err := fmt.Sscanf(a.Reason, "tx %s nonce %d", &hash, &nonce); err != nil {
				problems = append(problems, fmt.Sprintf("%s: unreadable audit entry %q", name, a.Reason))
				continue
			}
			if step, ok := signed[nonce]; ok && step != a.Target {
				problems = append(problems, fmt.Sprintf("%s: nonce %d signed for %s and for %s", name, nonce, step, a.Target))
			}
			signed[nonce] = a.Target
		}
		sent := after[name] - before[name]
		if sent < uint64(len(listed)) || sent > uint64(len(signed)) {
			problems = append(problems, fmt.Sprintf("%s: the deployer sent %d transactions for %d steps signed and %d confirmed", name, sent, len(signed), len(listed)))
		}
		if want >= 0 && sent != uint64(want) {
			problems = append(problems, fmt.Sprintf("%s: %d transactions, want %d", name, sent, want))
		}
		notes = append(notes, fmt.Sprintf("%s %d", name, sent))
	}
	return problems, "txs " + strings.Join(notes, ", ")
}

// checkPrevious checks that production traffic and the demo counter's proxies are on what
// they were on before the release.
func (su *suite) checkPrevious() []string {
	var problems []string
	if split := su.s.production(); split.Stable != su.live || split.Canary != "" || split.CanaryPercent != 0 {
		problems = append(problems, fmt.Sprintf("production split %+v, want all on %s", split, su.live))
	}
	for name, p := range su.proxies {
		ch, _ := su.s.chainOf(name)
		impl, err := su.s.implementation(ch, p[0])
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: reading the proxy's implementation: %v", name, err))
		case impl != p[1]:
			problems = append(problems, fmt.Sprintf("%s: proxy %s on implementation %s, want the previous %s", name, p[0].Hex(), impl.Hex(), p[1].Hex()))
		}
	}
	return problems
}

// rollbackApplied is when the backend applied the release's way back (0 %), if it did.
func rollbackApplied(l demosvc.StepLog, version, previous string) (time.Time, bool) {
	for _, s := range StepsOf(l, version, previous) {
		if s.Environment == rollbackStep.Environment && s.Percent == rollbackStep.Percent {
			return s.FirstAppliedAt, true
		}
	}
	return time.Time{}, false
}

// workerKill: one release with contracts and analysis while the worker is SIGKILLed n
// times at random moments, each time restarted within seconds.
func (su *suite) workerKill(n int) Run {
	const version = "2.0.0"
	run := Run{Scenario: "worker-kill", Name: fmt.Sprintf("release %s (contracts, analysis), %d SIGKILLs", version, n)}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos", firstContracts)
	if err != nil {
		return fail(err)
	}
	before, err := su.nonces()
	if err != nil {
		return fail(err)
	}
	// The schedule comes from the seed: the kills are spread evenly over the stages
	// (development, staging, testnet, canary, production); each comes at a random moment after
	// the worker is ready in its stage, and the worker stays dead a random while.
	type kill struct {
		stage       int
		after, dead time.Duration
	}
	plan := make([]kill, n)
	for i := range plan {
		plan[i] = kill{i * len(killStages) / n, su.between(300*time.Millisecond, 4*time.Second), su.between(200*time.Millisecond, 3*time.Second)}
	}
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	var stage atomicString
	stage.Store(string(release.StageDevelopment))
	done := make(chan struct{})
	type killed struct {
		stages []string
		err    error
	}
	result := make(chan killed, 1)
	go func() {
		var k killed
		defer func() { result <- k }()
		for _, p := range plan {
			for slices.Index(killStages, release.Stage(stage.Load())) < p.stage {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			select {
			case <-done:
				return
			case <-time.After(p.after):
			}
			su.s.killWorker(0)
			k.stages = append(k.stages, stage.Load())
			time.Sleep(p.dead)
			if k.err = su.s.startWorker(0); k.err != nil {
				return
			}
		}
	}()
	su.resume, su.resumed = true, 0
	st, err := su.follow(r, 20*time.Minute, func(st release.Status) { stage.Store(string(st.Stage)) })
	su.resume = false
	close(done)
	k := <-result
	run.Duration, run.Kills = time.Since(start), len(k.stages)
	if k.err != nil {
		return fail(fmt.Errorf("restarting the worker: %w", k.err))
	}
	if err != nil {
		return fail(err)
	}
	if len(k.stages) < n {
		run.Problems = append(run.Problems, fmt.Sprintf("the release ended after %d of %d kills: make it longer", len(k.stages), n))
	}
	if st.State != release.StateSucceeded {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s", st.State, st.Reason))
	}
	steps := StepsOf(su.s.steps(), version, su.live)
	run.Problems = append(run.Problems, ExactlyOnce(steps, allSteps, true)...)
	txProblems, txNote := su.checkTransactions(st, before, 2)
	run.Problems = append(run.Problems, txProblems...)
	su.proxies = map[string][2]common.Address{}
	for _, d := range st.Contracts {
		if d.Kind == "proxy" {
			su.proxies[d.Chain] = [2]common.Address{common.HexToAddress(d.Address), common.HexToAddress(d.Implementation)}
		}
	}
	if len(su.proxies) != 2 {
		run.Problems = append(run.Problems, fmt.Sprintf("want the proxy on both chains in the status, got %v", su.proxies))
	}
	requests := 0
	for _, s := range steps {
		requests += s.Requests
	}
	run.Note = fmt.Sprintf("killed in %s; %d steps, %d requests to the backend; %s", countStages(k.stages), len(steps), requests, txNote)
	if su.resumed > 0 {
		run.Note += fmt.Sprintf("; resumed by an operator %d× (an analysis window passed with no interval while the worker was dead)", su.resumed)
	}
	if st.State == release.StateSucceeded {
		su.live = version
	}
	return run
}

// baseline is the first release when the worker-kill scenario is left out: it puts v1 and
// its proxy on both chains.
func (su *suite) baseline() (run Run) {
	const version = "2.0.0"
	run = Run{Scenario: "baseline", Name: "release " + version + " (contracts v1)"}
	start := time.Now()
	defer func() { run.Duration = time.Since(start) }()
	r, err := su.release(version, "chaos", firstContracts)
	if err == nil {
		err = su.start(r)
	}
	var st release.Status
	if err == nil {
		st, err = su.follow(r, 10*time.Minute, nil)
	}
	if err != nil {
		run.Problems = append(run.Problems, err.Error())
		return run
	}
	su.proxies = map[string][2]common.Address{}
	for _, d := range st.Contracts {
		if d.Kind == "proxy" {
			su.proxies[d.Chain] = [2]common.Address{common.HexToAddress(d.Address), common.HexToAddress(d.Implementation)}
		}
	}
	if st.State != release.StateSucceeded || len(su.proxies) != 2 {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s", st.State, st.Reason))
		return run
	}
	su.live = version
	return run
}

// serverKill: the Temporal server (the dev server, or the cluster's on PostgreSQL) SIGKILLed
// in the middle of a 30 s soak and restarted on the same database; the soak must end at the
// deadline it recorded, and the release succeed.
func (su *suite) serverKill() Run {
	const version = "2.1.0"
	server := "dev server"
	if su.s.cluster != nil {
		server = "cluster's Temporal server"
	}
	run := Run{Scenario: "server-kill", Name: server + " killed mid-soak (release " + version + ")"}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos-soak", noContracts)
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	frac := 0.3 + 0.3*su.rng.Float64()
	down := su.between(time.Second, 4*time.Second)
	var deadline, closedSeen, killedAt time.Time
	var restartErr error
	var restart time.Duration // from the restart to the server serving the namespace again
	st, err := su.follow(r, 6*time.Minute, func(st release.Status) {
		soak := st.Windows[0]
		switch {
		case soak.State == release.WindowOpen && killedAt.IsZero():
			deadline = soak.EndsAt
			if time.Now().After(soak.StartedAt.Add(time.Duration(frac * float64(soak.EndsAt.Sub(soak.StartedAt))))) {
				killedAt = time.Now()
				su.s.killServer()
				time.Sleep(down)
				begin := time.Now()
				restartErr = su.s.restartServer()
				restart = time.Since(begin)
			}
		case soak.State == release.WindowDone && closedSeen.IsZero():
			closedSeen = time.Now()
			if !soak.EndsAt.Equal(deadline) {
				run.Problems = append(run.Problems, fmt.Sprintf("the soak's deadline moved from %s to %s", deadline, soak.EndsAt))
			}
		}
	})
	run.Duration = time.Since(start)
	if restartErr != nil {
		return fail(fmt.Errorf("restarting the %s: %w", server, restartErr))
	}
	if err != nil {
		return fail(err)
	}
	if killedAt.IsZero() {
		return fail(errors.New("the soak was never seen open: nothing was killed"))
	}
	run.Kills = 1
	late := closedSeen.Sub(deadline)
	switch {
	case closedSeen.IsZero():
		run.Problems = append(run.Problems, "the soak was never seen closed")
	case late < 0:
		run.Problems = append(run.Problems, fmt.Sprintf("the soak closed %s before its deadline", -late))
	case late > 5*time.Second:
		run.Problems = append(run.Problems, fmt.Sprintf("the soak closed %s after its deadline", late))
	}
	if st.State != release.StateSucceeded {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s", st.State, st.Reason))
	}
	run.Problems = append(run.Problems, ExactlyOnce(StepsOf(su.s.steps(), version, su.live), allSteps, true)...)
	run.Note = fmt.Sprintf("server down %.1f s at %.0f %% of the soak, serving again %.1f s after its restart; soak seen closed %.2f s after its recorded deadline",
		down.Seconds(), frac*100, restart.Seconds(), late.Seconds())
	if st.State == release.StateSucceeded {
		su.live = version
	}
	return run
}

// trafficFault: the backend refuses one step (422, a permanent refusal); the release must go
// back on its own: production traffic and the proxy on the previous version.
func (su *suite) trafficFault(i int, step StepID) Run {
	version := fmt.Sprintf("3.0.%d", i)
	run := Run{Scenario: "traffic-fault", Name: "backend refuses " + step.String()}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos", upgradeContracts)
	if err != nil {
		return fail(err)
	}
	before, err := su.nonces()
	if err != nil {
		return fail(err)
	}
	if err := su.s.setTrafficFault(step.Environment, step.Percent); err != nil {
		return fail(err)
	}
	defer su.s.clearTrafficFaults()
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	st, err := su.follow(r, 6*time.Minute, nil)
	run.Duration = time.Since(start)
	if err != nil {
		return fail(err)
	}
	moved := step.Environment == "production"
	want := slices.Clone(allSteps[:slices.Index(allSteps, step)])
	wantState := release.StateFailed
	if moved {
		want = append(want, rollbackStep)
		wantState = release.StateRolledBack
	}
	if st.State != wantState {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s, want %s: %s", st.State, wantState, st.Reason))
	}
	log := su.s.steps()
	run.Problems = append(run.Problems, ExactlyOnce(StepsOf(log, version, su.live), want, true)...)
	run.Problems = append(run.Problems, su.checkPrevious()...)
	txProblems, txNote := su.checkTransactions(st, before, -1)
	run.Problems = append(run.Problems, txProblems...)
	var refused time.Time
	for _, f := range log.Refusals {
		if f.Version == version && f.Environment == step.Environment && f.Percent == step.Percent {
			refused = f.At
			break
		}
	}
	if refused.IsZero() {
		run.Problems = append(run.Problems, "the backend never refused the step")
	}
	if back, ok := rollbackApplied(log, version, su.live); ok && !refused.IsZero() {
		run.ToZero = back.Sub(refused)
	}
	run.Note = fmt.Sprintf("ended %s; %s", st.State, txNote)
	return run
}

// cancel: the release workflow canceled through Temporal at a random moment of a stage; it
// must take the way back, then end canceled.
func (su *suite) cancel(i int, stage release.Stage) Run {
	version := fmt.Sprintf("3.1.%d", i)
	run := Run{Scenario: "cancel", Name: "canceled in " + string(stage)}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos", upgradeContracts)
	if err != nil {
		return fail(err)
	}
	before, err := su.nonces()
	if err != nil {
		return fail(err)
	}
	// in production, at one of its steps; in the canary and production once traffic moved
	at := 0.0
	switch stage {
	case release.StageCanary:
		at = 5
	case release.StageProduction:
		at = []float64{10, 25, 100}[su.rng.IntN(3)]
		run.Name += fmt.Sprintf(" at %g %%", at)
	}
	delay := su.between(0, time.Second)
	if stage == release.StageProduction {
		delay = su.between(0, 500*time.Millisecond)
	}
	id := r.In.Manifest.ID()
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	var canceledAt time.Time
	var cancelErr error
	st, err := su.follow(r, 6*time.Minute, func(st release.Status) {
		if !canceledAt.IsZero() || st.Stage != stage || st.TrafficPercent < at {
			return
		}
		time.Sleep(delay)
		canceledAt = time.Now()
		cancelErr = su.s.c.CancelWorkflow(context.Background(), id, "")
	})
	run.Duration = time.Since(start)
	if err != nil {
		return fail(err)
	}
	if cancelErr != nil || canceledAt.IsZero() {
		return fail(fmt.Errorf("the release was never canceled in %s: %v", stage, cancelErr))
	}
	if st.State != release.StateAborted || !strings.HasPrefix(st.Reason, "canceled") {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s; want aborted, canceled", st.State, st.Reason))
	}
	// the status is final before the execution closes: the release then leaves its
	// production lane and its line, each a round trip through the worker
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_ = su.s.c.GetWorkflow(wctx, id, "").Get(wctx, nil)
	wcancel()
	d, err := su.s.c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		return fail(err)
	}
	if status := d.GetWorkflowExecutionInfo().GetStatus(); status != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		run.Problems = append(run.Problems, fmt.Sprintf("the workflow execution ended %s, want canceled", status))
	}
	log := su.s.steps()
	steps := StepsOf(log, version, su.live)
	var want []StepID
	if stage.TrafficMoves() {
		want = []StepID{rollbackStep}
	}
	run.Problems = append(run.Problems, ExactlyOnce(steps, want, false)...)
	if !stage.TrafficMoves() {
		if _, ok := rollbackApplied(log, version, su.live); ok {
			run.Problems = append(run.Problems, "production traffic was rolled back though none had moved")
		}
	}
	run.Problems = append(run.Problems, su.checkPrevious()...)
	txProblems, txNote := su.checkTransactions(st, before, -1)
	run.Problems = append(run.Problems, txProblems...)
	if back, ok := rollbackApplied(log, version, su.live); ok {
		run.ToZero = back.Sub(canceledAt)
	}
	run.Note = fmt.Sprintf("%d steps applied, the way back included; %s", len(steps), txNote)
	return run
}

// atomicString is the stage the follower last saw, read by the killer.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }
func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}

// cancelSwitch: the release canceled while its proxy switch on chain is in flight (signed,
// not yet confirmed); the way back must still leave the proxy on the previous implementation.
func (su *suite) cancelSwitch(i int, chainName string) Run {
	version := fmt.Sprintf("3.2.%d", i)
	run := Run{Scenario: "cancel-switch", Name: "canceled while the proxy switch on " + chainName + " is in flight"}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos", upgradeContracts)
	if err != nil {
		return fail(err)
	}
	before, err := su.nonces()
	if err != nil {
		return fail(err)
	}
	id := r.In.Manifest.ID()
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	var canceledAt time.Time
	var cancelErr error
	st, err := su.follow(r, 6*time.Minute, func(st release.Status) {
		if !canceledAt.IsZero() {
			return
		}
		for _, a := range st.Audit {
			if a.Action == "contract-tx-signed" && a.Target == release.OpUpgrade+" Counter on "+chainName {
				canceledAt = time.Now()
				cancelErr = su.s.c.CancelWorkflow(context.Background(), id, "")
				return
			}
		}
	})
	run.Duration = time.Since(start)
	if err != nil {
		return fail(err)
	}
	if cancelErr != nil || canceledAt.IsZero() {
		return fail(fmt.Errorf("the release was never canceled during the switch on %s: %v", chainName, cancelErr))
	}
	if st.State != release.StateAborted {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s; want aborted, canceled", st.State, st.Reason))
	}
	// the switch may still be mined after the release closed: give it the chain's blocks
	time.Sleep(5 * time.Second)
	run.Problems = append(run.Problems, su.checkPrevious()...)
	log := su.s.steps()
	run.Problems = append(run.Problems, ExactlyOnce(StepsOf(log, version, su.live), nil, false)...)
	txProblems, txNote := su.checkTransactions(st, before, -1)
	run.Problems = append(run.Problems, txProblems...)
	run.Note = txNote
	if *recordAs != "" && i == 0 {
		if err := recordHistory(su.s.c, id, *recordAs); err != nil {
			run.Problems = append(run.Problems, err.Error())
		}
	}
	if back, ok := rollbackApplied(log, version, su.live); ok {
		run.ToZero = back.Sub(canceledAt)
	}
	return run
}

// recordHistory writes a release's history where the replay test reads recorded histories.
func recordHistory(c client.Client, id, name string) error {
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		return err
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, "workflows", "testdata", "histories", filepath.Base(strings.TrimSpace(name)))
	fmt.Printf("chaos: recorded the history of %s (%d events) in %s\n", id, len(hist.Events), path)
	return os.WriteFile(path, b, 0o644)
}

// countStages is "testnet ×3, canary ×1" in the order of the lifecycle.
func countStages(stages []string) string {
	n := map[string]int{}
	for _, s := range stages {
		n[s]++
	}
	var parts []string
	for _, s := range release.Stages {
		if n[string(s)] > 0 {
			parts = append(parts, fmt.Sprintf("%s ×%d", s, n[string(s)]))
		}
	}
	if n[""] > 0 {
		parts = append(parts, fmt.Sprintf("before the first status ×%d", n[""]))
	}
	return strings.Join(parts, ", ")
}
