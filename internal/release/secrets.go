package release

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// EnvSecretPrefix is the worker's namespace for credentials a policy may name: the secret a
// policy calls NAME is read from SHIPGATE_SECRET_<NAME> and from nothing else, so a policy can
// send nowhere a variable its operator did not declare for it. Chain keys live apart, in
// SHIPGATE_KEY_*, SHIPGATE_KEYSTORE_* and SHIPGATE_CLEF_* (internal/chain), which no name here
// can reach: every variable of this namespace starts SHIPGATE_SECRET_.
const EnvSecretPrefix = "SHIPGATE_SECRET_"

// secretNameRE is a secret's name as a policy writes it.
var secretNameRE = regexp.MustCompile(`^[A-Z0-9_]{1,64}$`)

// SecretEnv returns the worker environment variable holding the secret a policy calls name.
// Errors never repeat name: a person may have pasted the secret itself there.
func SecretEnv(name string) (string, error) {
	if !secretNameRE.MatchString(name) {
		return "", errors.New("must name a secret (A-Z, 0-9, _, at most 64), not hold one")
	}
	if strings.HasPrefix(name, "SHIPGATE_") {
		return "", fmt.Errorf("names a variable, not a secret: write NAME for the worker's %sNAME", EnvSecretPrefix)
	}
	return EnvSecretPrefix + name, nil
}

// validateTrafficToken: the traffic backend's token is named in the secret namespace only.
func (p *Policy) validateTrafficToken(v *validator) {
	if p.Traffic.TokenEnv != "" {
		v.addf("traffic.tokenEnv", "is refused: it could send any worker variable, a deployer key too, to the traffic URL; "+
			"put the token on the worker as %sNAME and write tokenSecret: NAME", EnvSecretPrefix)
	}
	if p.Traffic.TokenSecret == "" {
		return
	}
	if _, err := SecretEnv(p.Traffic.TokenSecret); err != nil {
		v.addf("traffic.tokenSecret", "%v", err)
	}
}
