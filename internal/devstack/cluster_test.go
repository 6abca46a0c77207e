package devstack

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The cluster's dynamic config holds every value the dev server runs with (ServerLimits,
// ServerTuning), each key once (a key twice is not YAML), a value set again by the caller
// replacing devstack's; its config serves the profiles on loopback.
func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteClusterConfig(dir, FixedClusterPorts, [2]string{"system.enableActivityEagerExecution", "false"},
		[2]string{"matching.numTaskqueueReadPartitions", "2"}, [2]string{"matching.numTaskqueueReadPartitions", "1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config", "dynamic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dyn map[string][]struct {
		Value any `yaml:"value"`
	}
	if err := yaml.Unmarshal(b, &dyn); err != nil {
		t.Fatalf("dynamic.yaml: %v\n%s", err, b)
	}
	want := map[string]string{"frontend.namespaceRPS.visibility": "100"}
	args := ServerDynamicArgs()
	for i := 1; i < len(args); i += 2 {
		k, v, _ := strings.Cut(args[i], "=")
		want[k] = v
	}
	want["system.enableActivityEagerExecution"] = "false"
	want["matching.numTaskqueueReadPartitions"] = "1"
	if len(dyn) != len(want) {
		t.Errorf("dynamic.yaml has %d keys, want %d:\n%s", len(dyn), len(want), b)
	}
	for k, v := range want {
		if got := dyn[k]; len(got) != 1 || strings.ToLower(yamlString(got[0].Value)) != v {
			t.Errorf("dynamic.yaml: %s = %v, want %s", k, got, v)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config", "shipgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Global struct {
			PProf struct {
				Port int    `yaml:"port"`
				Host string `yaml:"host"`
			} `yaml:"pprof"`
		} `yaml:"global"`
	}
	if err := yaml.Unmarshal(cfg, &c); err != nil {
		t.Fatalf("shipgate.yaml: %v", err)
	}
	if c.Global.PProf.Port != FixedClusterPorts.PProf || c.Global.PProf.Host != "127.0.0.1" {
		t.Errorf("shipgate.yaml: global.pprof %+v, want port %d on 127.0.0.1", c.Global.PProf, FixedClusterPorts.PProf)
	}
}

func yamlString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
