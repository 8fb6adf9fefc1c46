// Command cron-gocron answers cron questions with github.com/netresearch/go-cron v0.15.0, the
// schedule parser of Velero v1.18.3 (cron.ParseStandard, then Schedule.Next).
//
// One query per stdin line, one answer per stdout line:
//
//	next<TAB>AFTER<TAB>N<TAB>SPEC    ->  ok<TAB>T1 T2 ... (up to N firings, "none" ends early)
//	gap<TAB>FROM<TAB>TO<TAB>SPEC     ->  ok<TAB>LONGEST<TAB>COUNT<TAB>FIRST<TAB>LAST
//
// AFTER, FROM, TO and the answers are Unix seconds; SPEC is a JSON string. Both chain
// t = Next(t) from AFTER or FROM as Velero chains backups, except that a Next not after t
// moves t one minute (Velero's resync then finds a backup due at once); next prints each
// Next as the library gives it, gap the longest step between two backups up to TO (0 with
// fewer than two; FIRST and LAST are 0 without firings). A spec the parser refuses (or panics
// on, which Velero reports as invalid) answers err<TAB>MESSAGE.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

func parse(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
}

// step is the backup Velero takes after one at t when Next(t) is n: at n, or, when n is not
// after t (robfig around some DST changes), at the next minute's resync.
func step(t, n time.Time) time.Time {
	if n.After(t) {
		return n
	}
	return t.Add(time.Minute)
}

func answer(line string) string {
	parts := strings.SplitN(line, "\t", 4)
	if len(parts) != 4 {
		return "err\tbad query"
	}
	var spec string
	if err := json.Unmarshal([]byte(parts[3]), &spec); err != nil {
		return "err\tbad spec: " + err.Error()
	}
	a, err1 := strconv.ParseInt(parts[1], 10, 64)
	b, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return "err\tbad numbers"
	}
	s, err := parse(spec)
	if err != nil {
		return "err\t" + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	t := time.Unix(a, 0).UTC()
	switch parts[0] {
	case "next":
		var out []string
		for i := int64(0); i < b; i++ {
			n := s.Next(t)
			if n.IsZero() {
				out = append(out, "none")
				break
			}
			out = append(out, strconv.FormatInt(n.Unix(), 10))
			t = step(t, n)
		}
		return "ok\t" + strings.Join(out, " ")
	case "gap":
		var longest, count, first int64
		prev := int64(0)
		for {
			n := s.Next(t)
			if n.IsZero() {
				break
			}
			t = step(t, n)
			if t.Unix() > b {
				break
			}
			if count > 0 && t.Unix()-prev > longest {
				longest = t.Unix() - prev
			}
			if count == 0 {
				first = t.Unix()
			}
			prev = t.Unix()
			count++
		}
		return fmt.Sprintf("ok\t%d\t%d\t%d\t%d", longest, count, first, prev)
	}
	return "err\tbad query"
}

func main() {
	// Velero's local zone is UTC; specs without CRON_TZ are read in it.
	time.Local = time.UTC
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fmt.Fprintln(out, answer(in.Text()))
		out.Flush()
	}
}
