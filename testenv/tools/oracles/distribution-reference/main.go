// Command distribution-reference answers whether the kubelet can pull an image reference:
// github.com/distribution/reference v0.6.0 (the version k8s.io/kubernetes v1.36 requires),
// ParseNormalizedNamed, as k8s.io/kubernetes/pkg/util/parsers.ParseImageName calls it before
// every pull. Like that package it links crypto/sha256 and crypto/sha512: without them
// go-digest refuses every digest as unsupported.
//
// One query per stdin line, a JSON string; one answer per stdout line:
// ok<TAB>NORMALIZED (e.g. docker.io/library/nginx:1.25) or err<TAB>MESSAGE (a JSON string).
package main

import (
	"bufio"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"os"

	"github.com/distribution/reference"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var s string
		if err := json.Unmarshal(in.Bytes(), &s); err != nil {
			fmt.Fprintln(out, "err\tbad query: "+err.Error())
		} else if named, err := reference.ParseNormalizedNamed(s); err != nil {
			fmt.Fprintf(out, "err\t%q\n", err.Error())
		} else {
			fmt.Fprintf(out, "ok\t%s\n", named.String())
		}
		out.Flush()
	}
}
