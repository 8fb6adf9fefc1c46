// Command regexp answers with Go's regexp package: how the API server checks a CRD schema's
// `pattern` (k8s.io/kube-openapi validate: regexp.Compile, then MatchString).
//
// One query per stdin line, a JSON array [pattern, text]; one answer per stdout line:
// ok<TAB>true, ok<TAB>false, or err<TAB>MESSAGE when the pattern does not compile.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var q [2]string
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			fmt.Fprintln(out, "err\tbad query: "+err.Error())
		} else if re, err := regexp.Compile(q[0]); err != nil {
			fmt.Fprintf(out, "err\t%q\n", err.Error())
		} else {
			fmt.Fprintf(out, "ok\t%t\n", re.MatchString(q[1]))
		}
		out.Flush()
	}
}
