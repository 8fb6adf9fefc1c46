// actionlint, built from its Go module at a pinned version: the linter that judges the GitHub
// Actions workflows shipped in examples/ci/github-actions (tests/it/examples.rs). Same entry
// point as the upstream cmd/actionlint, kept here so the module's main package is at its root
// like every tool `hadr-testenv build` caches.
package main

import (
	"os"

	"github.com/rhysd/actionlint"
)

func main() {
	cmd := actionlint.Command{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(cmd.Main(os.Args))
}
