package devstack

// ClefBinary finds clef, go-ethereum's external signer: $SHIPGATE_CLEF, else the repository's
// git-ignored .bin/clef, which `go tool task tools:clef` builds from tools/clef (go-ethereum
// v1.17.3, the last release with cmd/clef). Like geth, one on PATH is not used: its external
// API version would be whatever happens to be installed.
func ClefBinary() (string, error) {
	return repoTool("SHIPGATE_CLEF", "clef", "tools:clef")
}
