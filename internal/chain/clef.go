package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// ClefSigner signs through Clef, go-ethereum's external signer, over its external API
// (https://geth.ethereum.org/docs/tools/clef/apis): the private key stays in Clef, which asks
// its user (or its rules) to approve each request. The worker's configuration alone names the
// endpoint and the account (SHIPGATE_CLEF_<NAME>, SHIPGATE_CLEF_ADDRESS_<NAME>); a manifest or
// a policy only names the key.
//
// Why not go-ethereum's accounts/external.ExternalSigner, which speaks the same two methods:
// its calls take no context, so a request nobody approves would hold the sign activity (and
// the nonce store's lock) past its timeout instead of ending with it; its connection cannot be
// closed (a worker would leak one per signature); and its Accounts() turns an unreachable Clef
// into an empty list. ClefSigner sends the same apitypes.SendTxArgs it builds, with a context,
// on a connection per signature.
type ClefSigner struct {
	Address  common.Address
	endpoint string // as dialled: an absolute IPC socket path or an http(s) URL
}

// Errors of the Clef signer; each is wrapped with the key's name and the endpoint.
var (
	// ErrClefDenied: Clef's user or rules refused the request.
	ErrClefDenied = errors.New("refused by Clef (denied by its user or rules)")
	// ErrClefAccount: Clef does not offer the account the worker is configured with.
	ErrClefAccount = errors.New("the configured account is not among the ones Clef offers")
)

// NewClefSigner checks the configuration of key name: endpoint (ParseClefEndpoint) and address,
// the account Clef must sign with. Nothing is dialled until a transaction is signed.
func NewClefSigner(name, endpoint, address string) (*ClefSigner, error) {
	ep, err := ParseClefEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("key %s: %s: %w", name, EnvClef+envName(name), err)
	}
	addr, err := parseAddress(address)
	if err != nil {
		return nil, fmt.Errorf("key %s: %s: %w", name, EnvClefAddress+envName(name), err)
	}
	return &ClefSigner{Address: addr, endpoint: ep}, nil
}

// String names the signer: the endpoint, which ParseClefEndpoint accepted without credentials.
func (c *ClefSigner) String() string { return "Clef at " + c.endpoint }

// Endpoint is where the signer dials Clef.
func (c *ClefSigner) Endpoint() string { return c.endpoint }

// SignTx asks Clef for the accounts it offers (account_list) and refuses to go on unless the
// configured one is among them, then asks it to sign tx (account_signTransaction) and decodes
// the raw bytes it returns. Both requests may wait for Clef's user; ctx bounds the wait (the
// sign activity's timeout). sign checks that the answer is tx, signed by Address.
func (c *ClefSigner) SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	if tx.Type() != types.DynamicFeeTxType {
		return nil, c.errorf("account_signTransaction", fmt.Errorf("transaction type %d: only EIP-1559 transactions are signed", tx.Type()))
	}
	cl, err := rpc.DialContext(ctx, c.endpoint)
	if err != nil {
		return nil, c.errorf("dial", err)
	}
	defer cl.Close()
	var accounts []common.Address
	if err := cl.CallContext(ctx, &accounts, "account_list"); err != nil {
		return nil, c.errorf("account_list", err)
	}
	if !slices.Contains(accounts, c.Address) {
		offered := make([]string, len(accounts))
		for i, a := range accounts {
			offered[i] = a.Hex()
		}
		return nil, c.errorf("account_list", fmt.Errorf("%w %s (it offers %d: %s)", ErrClefAccount, c.Address.Hex(), len(accounts), strings.Join(offered, ", ")))
	}
	var res struct {
		Raw hexutil.Bytes `json:"raw"`
	}
	if err := cl.CallContext(ctx, &res, "account_signTransaction", clefTxArgs(c.Address, tx, chainID)); err != nil {
		return nil, c.errorf("account_signTransaction", err)
	}
	signed := new(types.Transaction)
	if err := signed.UnmarshalBinary(res.Raw); err != nil {
		return nil, c.errorf("account_signTransaction", fmt.Errorf("%w: undecodable raw transaction: %v", ErrSignerMismatch, err))
	}
	return signed, nil
}

// clefTxArgs is the request accounts/external.ExternalSigner.SignTx sends for an EIP-1559
// transaction. Addresses go checksummed (common.NewMixedcaseAddress): Clef warns about, and
// without --advanced refuses, a recipient whose checksum is not valid.
func clefTxArgs(from common.Address, tx *types.Transaction, chainID *big.Int) *apitypes.SendTxArgs {
	data := hexutil.Bytes(tx.Data())
	args := &apitypes.SendTxArgs{
		From:                 common.NewMixedcaseAddress(from),
		Gas:                  hexutil.Uint64(tx.Gas()),
		MaxFeePerGas:         (*hexutil.Big)(tx.GasFeeCap()),
		MaxPriorityFeePerGas: (*hexutil.Big)(tx.GasTipCap()),
		Value:                hexutil.Big(*tx.Value()),
		Nonce:                hexutil.Uint64(tx.Nonce()),
		Input:                &data,
		ChainID:              (*hexutil.Big)(chainID),
	}
	if to := tx.To(); to != nil {
		m := common.NewMixedcaseAddress(*to)
		args.To = &m
	}
	accessList := tx.AccessList()
	args.AccessList = &accessList
	return args
}

// errorf says which step failed; sign wraps it with the key's name and the endpoint (Key's
// String). Clef's own messages name accounts and requests, never a password; a denial becomes
// ErrClefDenied, a wait cut short by ctx says that no answer came.
func (c *ClefSigner) errorf(step string, err error) error {
	var rpcErr rpc.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		err = fmt.Errorf("no answer in time (a request waits for Clef's user or rules to approve it): %w", err)
	case errors.As(err, &rpcErr) && strings.Contains(strings.ToLower(rpcErr.Error()), "request denied"):
		err = fmt.Errorf("%w: %v", ErrClefDenied, rpcErr)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// ParseClefEndpoint accepts where the worker reaches Clef's external API: the absolute path of
// its IPC socket (clef --ipcpath DIR serves DIR/clef.ipc), an http URL on a loopback address
// (clef --http), or an https URL (Clef behind a TLS proxy). A URL with credentials, a query
// or a fragment is refused, so the endpoint can be named in every error and log; the errors
// here quote the input only without those parts.
func ParseClefEndpoint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty endpoint: want an IPC socket path or an http(s) URL")
	}
	if strings.ContainsAny(s, "\x00\r\n") {
		return "", fmt.Errorf("endpoint %q contains control characters", redactEndpoint(s))
	}
	if !strings.Contains(s, "://") {
		if !filepath.IsAbs(s) {
			// not quoted: a value that is no path may be a secret pasted into the wrong variable
			return "", fmt.Errorf("endpoint of %d characters is neither an absolute IPC socket path nor an http(s) URL", len(s))
		}
		return filepath.Clean(s), nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("endpoint %q is not a URL", redactEndpoint(s))
	}
	shown := redactEndpoint(s)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("endpoint %q: scheme %q: want http or https (or an IPC socket path)", shown, u.Scheme)
	case u.User != nil:
		return "", fmt.Errorf("endpoint %q: credentials in the URL are refused (they would show in every error and log)", shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("endpoint %q: a query or fragment is refused (it would show in every error and log)", shown)
	case u.Hostname() == "" || u.Opaque != "":
		return "", fmt.Errorf("endpoint %q: no host", shown)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "", fmt.Errorf("endpoint %q: plain http only to a loopback address (Clef's --http has no TLS): use https through a TLS proxy, or the IPC socket", shown)
	}
	return u.String(), nil
}

// redactEndpoint is s without the parts of a URL that may hold a secret: user info, query and
// fragment. It is what an error may quote of an endpoint that was refused.
func redactEndpoint(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	// The authority ends at the first '/', '?' or '#'; the user info is what precedes its last '@'.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, path := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = "…@" + authority[at+1:]
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i] + "…"
	}
	if strings.Contains(path, "@") {
		// url.Parse would not take it for user info, but a mistyped URL may still hold one
		path = "/…"
	}
	return scheme + "://" + authority + path
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseAddress accepts a 0x-prefixed hex address; one in mixed case must carry a valid EIP-55
// checksum, so a mistyped character is caught rather than signing as another account.
func parseAddress(s string) (common.Address, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "0x") || !common.IsHexAddress(s) {
		// not quoted: it may be a private key pasted into the wrong variable
		return common.Address{}, fmt.Errorf("not a 0x-prefixed 20-byte hex address (%d characters)", len(s))
	}
	m, err := common.NewMixedcaseAddressFromString(s)
	if err != nil {
		return common.Address{}, fmt.Errorf("not a hex address: %v", err)
	}
	hexPart := s[2:]
	if hexPart != strings.ToLower(hexPart) && hexPart != strings.ToUpper(hexPart) && !m.ValidChecksum() {
		return common.Address{}, fmt.Errorf("%q: mixed case with an invalid EIP-55 checksum (want %s)", s, m.Address().Hex())
	}
	if m.Address() == (common.Address{}) {
		return common.Address{}, errors.New("the zero address")
	}
	return m.Address(), nil
}

// envName is a key name as its environment variables spell it.
func envName(name string) string { return strings.ReplaceAll(strings.ToUpper(name), "-", "_") }
