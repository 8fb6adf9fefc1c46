// Command duration answers with Go's time.ParseDuration: how Velero reads a Schedule's ttl
// (metav1.Duration) and `@every` durations.
//
// One query per stdin line, a JSON string; one answer per stdout line:
// ok<TAB>NANOSECONDS or err<TAB>MESSAGE.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
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
		} else if d, err := time.ParseDuration(s); err != nil {
			fmt.Fprintf(out, "err\t%q\n", err.Error())
		} else {
			fmt.Fprintf(out, "ok\t%d\n", int64(d))
		}
		out.Flush()
	}
}
