package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/google/uuid"

	"github.com/shipgate/shipgate/internal/chain"
)

// clefUI stands in for the human at Clef's own screen. Started with --stdio-ui, Clef sends
// everything it would show its user — the accounts a caller wants listed, each transaction to
// approve, the prompt for the account's password — as JSON-RPC requests on its stdout and
// reads the answers on its stdin. The test answers them as a person at the signer's console
// would: it approves listings, types the keystore's password when asked, and approves or
// rejects each transaction as the test decides (or leaves it unanswered, a person away from
// the screen). It sees only what Clef shows; the worker's side talks to Clef's external API.
type clefUI struct {
	password string

	mu       sync.Mutex
	decide   func(tx map[string]any) (approve bool, hold bool)
	edit     func(tx map[string]any) // what the person changes before approving, as Clef allows
	txs      []map[string]any        // every transaction Clef asked to approve
	prompts  []string                // every input Clef asked for
	released chan struct{}           // closed to answer held requests (with a rejection)
	started  chan map[string]any
}

// clefRequest is what ui_approveTx carries: the transaction as the caller sent it.
type clefRequest struct {
	Transaction map[string]any `json:"transaction"`
}

// ApproveTx answers ui_approveTx.
func (u *clefUI) ApproveTx(req clefRequest) (map[string]any, error) {
	u.mu.Lock()
	u.txs = append(u.txs, req.Transaction)
	decide, edit := u.decide, u.edit
	u.mu.Unlock()
	if edit != nil {
		edit(req.Transaction)
	}
	approve, hold := true, false
	if decide != nil {
		approve, hold = decide(req.Transaction)
	}
	if hold {
		<-u.released
		approve = false
	}
	return map[string]any{"transaction": req.Transaction, "approved": approve}, nil
}

// ApproveListing answers ui_approveListing: the person lets the caller see every account.
func (u *clefUI) ApproveListing(req struct {
	Accounts json.RawMessage `json:"accounts"`
}) (map[string]any, error) {
	return map[string]any{"accounts": req.Accounts}, nil
}

// ApproveSignData refuses: shipgate signs transactions only.
func (u *clefUI) ApproveSignData(json.RawMessage) (map[string]any, error) {
	return map[string]any{"approved": false}, nil
}

// ApproveNewAccount refuses.
func (u *clefUI) ApproveNewAccount(json.RawMessage) (map[string]any, error) {
	return map[string]any{"approved": false}, nil
}

// OnInputRequired answers a password prompt with the keystore's password.
func (u *clefUI) OnInputRequired(req struct {
	Title      string `json:"title"`
	Prompt     string `json:"prompt"`
	IsPassword bool   `json:"isPassword"`
}) (map[string]string, error) {
	u.mu.Lock()
	u.prompts = append(u.prompts, req.Title)
	u.mu.Unlock()
	if !req.IsPassword {
		return nil, fmt.Errorf("unexpected input request %q", req.Title)
	}
	return map[string]string{"text": u.password}, nil
}

// OnSignerStartup receives the endpoints Clef opened.
func (u *clefUI) OnSignerStartup(info struct {
	Info map[string]any `json:"info"`
}) {
	select {
	case u.started <- info.Info:
	default:
	}
}

func (u *clefUI) ShowInfo(json.RawMessage)     {}
func (u *clefUI) ShowError(json.RawMessage)    {}
func (u *clefUI) OnApprovedTx(json.RawMessage) {}

func (u *clefUI) seen() (txs int, prompts []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.txs), append([]string(nil), u.prompts...)
}

// clefProc is a running clef with its UI played by the test.
type clefProc struct {
	ui        *clefUI
	IPC, HTTP string
	cmd       *exec.Cmd
	done      chan struct{}
}

// startClef runs the built clef (it fails, never skips, when clef is missing) on a keystore
// dir for chainID, with its external API on an IPC socket in dir and on HTTP on loopback.
func startClef(tb testing.TB, dir, keystoreDir string, chainID uint64, ui *clefUI) *clefProc {
	tb.Helper()
	bin, err := ClefBinary()
	if err != nil {
		tb.Fatal(err)
	}
	ui.started = make(chan map[string]any, 1)
	ui.released = make(chan struct{})
	logf, err := os.Create(filepath.Join(dir, "clef.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--stdio-ui", "--suppress-bootwarn", "--nousb", "--loglevel", "3",
		"--keystore", keystoreDir, "--configdir", filepath.Join(dir, "config"), "--chainid", fmt.Sprint(chainID),
		"--ipcpath", dir, "--http", "--http.addr", "127.0.0.1", "--http.port", "0",
		"--auditlog", filepath.Join(dir, "audit.log")) // its default is ./audit.log
	cmd.Stderr = logf // clef logs to stderr in --stdio-ui mode: stdout is the UI channel
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	p := &clefProc{ui: ui, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	// The UI side of the stdio channel: Clef calls ui_* on this client's registered service.
	uiClient, err := rpc.DialIO(context.Background(), stdout, stdin)
	if err != nil {
		_ = cmd.Process.Kill()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		select {
		case <-ui.released:
		default:
			close(ui.released)
		}
		_ = cmd.Process.Signal(os.Interrupt) // clef exits on SIGINT
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		// Only now: closing the stdio client waits for its reader, which ends when clef's
		// stdout does.
		uiClient.Close()
	})
	if err := uiClient.RegisterName("ui", ui); err != nil {
		tb.Fatal(err)
	}
	select {
	case info := <-ui.started:
		p.IPC, _ = info["extapi_ipc"].(string)
		p.HTTP, _ = info["extapi_http"].(string)
	case <-p.done:
		tb.Fatalf("clef exited before it started (log: %s)", logf.Name())
	case <-time.After(time.Minute):
		tb.Fatalf("clef did not start in a minute (log: %s)", logf.Name())
	}
	if p.IPC == "" || !strings.HasPrefix(p.HTTP, "http://127.0.0.1:") {
		tb.Fatalf("clef opened IPC %q and HTTP %q", p.IPC, p.HTTP)
	}
	return p
}

// writeKeystore puts priv into dir as a go-ethereum keystore file under password.
func writeKeystore(tb testing.TB, dir, password string) common.Address {
	tb.Helper()
	priv, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := uuid.NewRandom()
	addr := crypto.PubkeyToAddress(priv.PublicKey)
	blob, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: addr, PrivateKey: priv}, password, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "UTC--"+strings.ToLower(addr.Hex()[2:])+".json"), blob, 0o600); err != nil {
		tb.Fatal(err)
	}
	return addr
}

// The worker signs through a real Clef: a deploy approved at Clef's screen lands on a real
// geth --dev chain, verified; Clef offering another account than the configured one is
// refused before any transaction is asked for; a rejection at Clef's screen is an error at
// once, a transaction edited there before approval is refused, and a request nobody answers
// ends with the caller's context. The key is configured as a production worker would (no hex
// key allowed), and the password never leaves Clef.
func TestClefSignsDeployOnGeth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const chainID = 31371
	const password = "clef-test-keystore-password"
	geth := startChain(t, filepath.Join(dir, "chain"), chainID)
	deployer := writeKeystore(t, filepath.Join(dir, "keystore"), password)
	stranger := writeKeystore(t, filepath.Join(dir, "elsewhere"), password) // a key Clef does not hold
	ui := &clefUI{password: password}
	start := time.Now()
	clef := startClef(t, dir, filepath.Join(dir, "keystore"), chainID, ui)
	t.Logf("clef up in %s: IPC %s, HTTP %s", time.Since(start).Round(time.Millisecond), clef.IPC, clef.HTTP)
	if _, err := FundFromDev(ctx, geth.RPC, deployer, hundredEther); err != nil {
		t.Fatal(err)
	}

	// The worker's configuration, production profile: Clef over IPC for the deployer.
	t.Setenv("SHIPGATE_CLEF_DEPLOYER", clef.IPC)
	t.Setenv("SHIPGATE_CLEF_ADDRESS_DEPLOYER", deployer.Hex())
	key, err := chain.LoadKeyFrom("deployer", false)
	if err != nil {
		t.Fatal(err)
	}
	v1 := loadDemoArtifact(t, "CounterV1")
	nonces := &chain.NonceStore{Dir: filepath.Join(dir, "nonces")}

	start = time.Now()
	s, conf, check, err := deployVerified(ctx, geth.RPC, chainID, key, nonces, "test/clef/deploy/CounterV1", v1)
	if err != nil {
		t.Fatalf("deploy signed through Clef: %v (log: %s)", err, filepath.Join(dir, "clef.log"))
	}
	t.Logf("deploy signed through Clef (IPC), mined and verified in %s: tx %s, contract %s", time.Since(start).Round(time.Millisecond), s.Hash.Hex(), check.Address.Hex())
	if s.From != deployer || s.Nonce != 0 || *conf.ContractAddress != crypto.CreateAddress(deployer, 0) {
		t.Fatalf("signed %+v, confirmed %+v", s, conf)
	}
	txs, prompts := ui.seen()
	if txs != 1 || len(prompts) != 1 || prompts[0] != "Account password" {
		t.Fatalf("Clef's screen showed %d transactions and prompts %q; want 1 and the account password once", txs, prompts)
	}
	// Signed once: the nonce store answers a retry with the stored bytes, without Clef.
	again, err := chain.SignTx(ctx, mustDial(t, ctx, geth.RPC, chainID), key, nonces, chain.TxRequest{OpKey: "test/clef/deploy/CounterV1", Data: []byte{1}})
	if err != nil || again.Hash != s.Hash {
		t.Fatalf("retried sign = %v, %v; want the stored %s", again, err, s.Hash.Hex())
	}
	if txs, _ := ui.seen(); txs != 1 {
		t.Fatalf("a retried sign reached Clef (%d requests)", txs)
	}
	b := mustDial(t, ctx, geth.RPC, chainID)
	// A plain transfer: Clef's screen shows it without warnings about unknown call data.
	callReq := func(op string) chain.TxRequest { return chain.TxRequest{OpKey: op, To: &stranger} }

	// Over HTTP, the same Clef: a key configured with an account Clef does not offer is
	// refused after account_list, before any transaction reaches Clef's screen.
	t.Setenv("SHIPGATE_CLEF_OTHER", clef.HTTP)
	t.Setenv("SHIPGATE_CLEF_ADDRESS_OTHER", stranger.Hex())
	other, err := chain.LoadKeyFrom("other", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chain.SignTx(ctx, b, other, nonces, callReq("test/clef/other"))
	if !errors.Is(err, chain.ErrClefAccount) || !strings.Contains(err.Error(), "key other ("+stranger.Hex()+") via Clef at "+clef.HTTP+": account_list: ") || !strings.Contains(err.Error(), deployer.Hex()) {
		t.Fatalf("unconfigured account: %v; want %v naming the key, the endpoint and what Clef offers", err, chain.ErrClefAccount)
	}
	if txs, _ := ui.seen(); txs != 1 {
		t.Fatalf("a transaction for an account Clef does not offer reached its screen")
	}

	// Rejected at Clef's screen: a clear error at once, nothing stored, the nonce still free.
	ui.mu.Lock()
	ui.decide = func(map[string]any) (bool, bool) { return false, false }
	ui.mu.Unlock()
	start = time.Now()
	_, err = chain.SignTx(ctx, b, key, nonces, callReq("test/clef/rejected"))
	took := time.Since(start)
	if !errors.Is(err, chain.ErrClefDenied) || !strings.Contains(err.Error(), "key deployer ("+deployer.Hex()+") via Clef at "+clef.IPC+": account_signTransaction: ") {
		t.Fatalf("rejected request: %v; want %v naming the key and endpoint", err, chain.ErrClefDenied)
	}
	if took > 10*time.Second {
		t.Fatalf("the rejection took %s", took)
	}
	t.Logf("rejection answered in %s: %v", took.Round(time.Millisecond), err)
	if ops, _ := nonces.Reserved(chainID, deployer); len(ops) != 1 {
		t.Fatalf("nonce store after a rejection: %v", ops)
	}

	// Edited at Clef's screen before approval (more gas): Clef signs the edited transaction,
	// and the worker refuses it; nothing is stored.
	ui.mu.Lock()
	ui.decide = nil
	ui.edit = func(tx map[string]any) { tx["gas"] = "0x7a120" }
	ui.mu.Unlock()
	_, err = chain.SignTx(ctx, b, key, nonces, callReq("test/clef/edited"))
	if !errors.Is(err, chain.ErrSignerMismatch) || !strings.Contains(err.Error(), "gas 500000, asked ") {
		t.Fatalf("edited at Clef: %v; want %v naming the gas", err, chain.ErrSignerMismatch)
	}
	if ops, _ := nonces.Reserved(chainID, deployer); len(ops) != 1 {
		t.Fatalf("nonce store after an edited answer: %v", ops)
	}
	ui.mu.Lock()
	ui.edit = nil
	ui.mu.Unlock()

	// Nobody at the screen: the request waits until the caller's context ends, then says so.
	ui.mu.Lock()
	ui.decide = func(map[string]any) (bool, bool) { return false, true }
	ui.mu.Unlock()
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	start = time.Now()
	_, err = chain.SignTx(short, b, key, nonces, callReq("test/clef/unanswered"))
	cancelShort()
	took = time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer in time") || took > 10*time.Second {
		t.Fatalf("unanswered request after %s: %v; want the deadline, named", took, err)
	}
	t.Logf("unanswered request ended with its context after %s", took.Round(time.Millisecond))
	close(ui.released)

	// Approved again: the next call takes nonce 1 (nothing was used by the refusals) and lands.
	ui.mu.Lock()
	ui.decide = nil
	ui.mu.Unlock()
	s2, err := chain.SignTx(ctx, b, key, nonces, callReq("test/clef/increment"))
	if err != nil || s2.Nonce != 1 {
		t.Fatalf("call after the refusals: %+v, %v; want nonce 1", s2, err)
	}
	if _, err := chain.Broadcast(ctx, b, s2.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := chain.WaitConfirmed(ctx, b, s2.Raw, chain.WaitOptions{Confirmations: 1, PollInterval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	// The password went to Clef only: it is in no error above and in neither of Clef's logs;
	// Clef's audit log has the signed requests.
	for _, name := range []string{"clef.log", "audit.log"} {
		if log, err := os.ReadFile(filepath.Join(dir, name)); err != nil || strings.Contains(string(log), password) ||
			name == "audit.log" && !strings.Contains(string(log), "SignTransaction") {
			t.Fatalf("%s: %v; or it holds the password, or (audit.log) no SignTransaction", name, err)
		}
	}
}

func mustDial(tb testing.TB, ctx context.Context, url string, chainID uint64) *ethclient.Client {
	tb.Helper()
	c, err := chain.Dial(ctx, url, chainID)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
