package release

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/sha3"
)

// Governance says a chain's proxies are upgraded only through its Safe multisig and
// TimelockController: shipgate proposes, the owners approve, the delay passes, and the worker's
// key never switches a proxy itself. Every number here is also read from the chain before any
// transaction, and a release whose policy disagrees with the chain is refused.
type Governance struct {
	Safe     string `yaml:"safe" json:"safe"`         // the Safe (proxy) address
	Timelock string `yaml:"timelock" json:"timelock"` // the TimelockController
	// MultiSend is Safe's MultiSendCallOnly library on this chain (it batches a proposal's
	// upgrade and its prepared revert into one Safe transaction).
	MultiSend string   `yaml:"multiSend" json:"multiSend"`
	Owners    []string `yaml:"owners" json:"owners"`       // the Safe's owners, any order
	Threshold int      `yaml:"threshold" json:"threshold"` // approvals the Safe needs
	MinDelay  Duration `yaml:"minDelay" json:"minDelay"`   // the timelock's minimum delay
	// ProxyAdmin, when set, is the ProxyAdmin every transparent proxy on this chain is
	// upgraded through (a shared one, OpenZeppelin 4.x style); unset, each proxy's own is read
	// from its EIP-1967 admin slot (OpenZeppelin 5.x). Either must be owned by the timelock.
	ProxyAdmin string `yaml:"proxyAdmin,omitempty" json:"proxyAdmin,omitempty"`
}

// Governance floors of a production policy: a multisig of at least two people, and a delay
// users can see coming.
const (
	FloorGovernanceThreshold = 2
	FloorGovernanceDelay     = 24 * time.Hour
)

var addressRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)

// checkAddress says what is wrong with an address written in a policy: not 0x + 40 hex digits,
// the zero address, or a mixed-case spelling whose EIP-55 checksum does not match (a typo).
func checkAddress(s string) string {
	if !addressRE.MatchString(s) {
		return fmt.Sprintf("%q is not an address (0x and 40 hex digits)", s)
	}
	if strings.TrimLeft(s[2:], "0") == "" {
		return "the zero address"
	}
	lower := strings.ToLower(s[2:])
	if s[2:] == lower || s[2:] == strings.ToUpper(s[2:]) {
		return ""
	}
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := hex.EncodeToString(h.Sum(nil))
	for i, c := range lower {
		want := c
		if c >= 'a' && sum[i] >= '8' {
			want = c - 'a' + 'A'
		}
		if rune(s[2+i]) != want {
			return fmt.Sprintf("%q fails its EIP-55 checksum (a typo?)", s)
		}
	}
	return ""
}

func (p *Policy) validateGovernance(v *validator, f string, c Chain) {
	g := c.Governance
	if g == nil {
		return
	}
	f += ".governance"
	seen := map[string]string{}
	for name, a := range map[string]string{"safe": g.Safe, "timelock": g.Timelock, "multiSend": g.MultiSend} {
		if msg := checkAddress(a); msg != "" {
			v.addf(f+"."+name, "%s", msg)
		}
		seen[strings.ToLower(a)] = name
	}
	if len(seen) != 3 {
		v.addf(f, "safe, timelock and multiSend must be three different contracts")
	}
	if g.ProxyAdmin != "" {
		if msg := checkAddress(g.ProxyAdmin); msg != "" {
			v.addf(f+".proxyAdmin", "%s", msg)
		} else if name, ok := seen[strings.ToLower(g.ProxyAdmin)]; ok {
			v.addf(f+".proxyAdmin", "%s is the %s, not a ProxyAdmin", g.ProxyAdmin, name)
		}
	}
	owners := map[string]bool{}
	for i, o := range g.Owners {
		if msg := checkAddress(o); msg != "" {
			v.addf(fmt.Sprintf("%s.owners[%d]", f, i), "%s", msg)
		} else if owners[strings.ToLower(o)] {
			v.addf(fmt.Sprintf("%s.owners[%d]", f, i), "%s is listed twice", o)
		} else if name, ok := seen[strings.ToLower(o)]; ok {
			v.addf(fmt.Sprintf("%s.owners[%d]", f, i), "%s is the %s, not a person's wallet", o, name)
		}
		owners[strings.ToLower(o)] = true
	}
	if len(g.Owners) == 0 {
		v.addf(f+".owners", "is required: the Safe's owners as the chain has them")
	}
	if g.Threshold < 1 || g.Threshold > len(g.Owners) {
		v.addf(f+".threshold", "must be between 1 and the number of owners (%d), got %d", len(g.Owners), g.Threshold)
	}
	if g.MinDelay.D() <= 0 || g.MinDelay.D()%time.Second != 0 {
		v.addf(f+".minDelay", "must be a positive whole number of seconds, as the timelock stores it (got %s)", g.MinDelay)
	}
	if p.Profile == ProfileProduction {
		if g.Threshold < FloorGovernanceThreshold {
			v.addf(f+".threshold", "a production policy needs at least %d approvals (got %d)", FloorGovernanceThreshold, g.Threshold)
		}
		if g.MinDelay.D() < FloorGovernanceDelay {
			v.addf(f+".minDelay", "a production policy needs a delay of at least %s (got %s)", Duration(FloorGovernanceDelay), g.MinDelay)
		}
	}
}

// validateGovernedRelease: on a production policy, a release with contracts behind proxies
// needs its mainnet governed (GovernedMainnet); the workflow takes the governed path for them.
func validateGovernedRelease(v *validator, m *Manifest, p *Policy) {
	if msg := governedMainnet(m, p); msg != "" {
		v.addf("contracts", "%s", msg)
	}
}

// GovernedMainnet is the rule that a production policy governs its mainnet whenever a release
// switches proxies there: no single hot key of the worker upgrades a production proxy. It is
// part of ValidateRelease (the starter, Load); the workflow asks it separately, behind a
// version marker, because releases admitted before the rule must replay as admitted.
func GovernedMainnet(m *Manifest, p *Policy) error {
	if msg := governedMainnet(m, p); msg != "" {
		return fmt.Errorf("workflow input manifest: contracts: %s", msg)
	}
	return nil
}

func governedMainnet(m *Manifest, p *Policy) string {
	if p.Profile != ProfileProduction {
		return ""
	}
	var proxies []string
	for _, c := range m.Contracts {
		if c.Proxy != nil {
			proxies = append(proxies, c.Name)
		}
	}
	if len(proxies) == 0 {
		return ""
	}
	ch, ok := p.ChainFor(ChainMainnet)
	if !ok || ch.Governance != nil {
		return "" // no mainnet: refused on its own
	}
	return fmt.Sprintf("the release switches the proxies of %s on mainnet chain %q, which the production policy does not govern: a production policy needs governance (a Safe and a timelock) on its mainnet to upgrade proxies there",
		strings.Join(proxies, ", "), ch.Name)
}
