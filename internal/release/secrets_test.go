package release

import (
	"strings"
	"testing"
)

func TestSecretsLiveInTheirOwnNamespace(t *testing.T) {
	if env, err := SecretEnv("TRAFFIC_TOKEN"); err != nil || env != "SHIPGATE_SECRET_TRAFFIC_TOKEN" {
		t.Fatalf("%q %v", env, err)
	}
	// a name that looks like a chain key still reads only the secret namespace
	if env, err := SecretEnv("KEY_DEPLOYER"); err != nil || env != "SHIPGATE_SECRET_KEY_DEPLOYER" {
		t.Fatalf("%q %v", env, err)
	}
	for _, name := range []string{"", "SHIPGATE_KEY_DEPLOYER", "SHIPGATE_KEYSTORE_PASS_DEPLOYER", "../KEY", "key_deployer", "0xdeadbeefcafe-s3cr3t", strings.Repeat("A", 65)} {
		env, err := SecretEnv(name)
		if err == nil {
			t.Errorf("%q accepted as %s", name, env)
		} else if name != "" && strings.Contains(err.Error(), name) {
			t.Errorf("error echoes the name %q: %v", name, err)
		}
	}
}

func TestTrafficTokenErrorsNeverEchoTheValue(t *testing.T) {
	for _, line := range []string{"tokenSecret: s3cr3t-t0ken", "tokenEnv: s3cr3t-t0ken"} {
		src := strings.Replace(string(DefaultPolicyYAML()), "url: http://127.0.0.1:8090/v1/traffic", "url: http://127.0.0.1:8090/v1/traffic\n  "+line, 1)
		_, err := ParsePolicy("p.yaml", []byte(src), knownTypes)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("%s: %v", line, err)
		}
	}
}
