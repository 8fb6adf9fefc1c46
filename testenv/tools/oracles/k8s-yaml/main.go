// k8s-yaml reads YAML streams exactly as kubectl reads a manifest file and prints what it would
// send: kubectl's resource builder (k8s.io/cli-runtime StreamVisitor) decodes each document with
// k8s.io/apimachinery's NewYAMLOrJSONDecoder(r, 4096) into a RawExtension (sigs.k8s.io/yaml,
// YAML 1.1 via go.yaml.in/yaml/v2), trims it and skips empty and null documents.
//
// Protocol (stdin -> stdout), one answer line per request, in order:
//
//	request:  "<n>\n" followed by exactly n bytes (one file's text)
//	answer:   {"docs":[<JSON of each document>]}  or  {"error":"<kubectl's message>"}
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for {
		header, err := in.ReadString('\n')
		if err == io.EOF && header == "" {
			return
		}
		if err != nil {
			fail(fmt.Errorf("reading a frame header: %w", err))
		}
		n, err := strconv.Atoi(strings.TrimSpace(header))
		if err != nil || n < 0 {
			fail(fmt.Errorf("bad frame header %q", header))
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(in, body); err != nil {
			fail(fmt.Errorf("reading a frame of %d bytes: %w", n, err))
		}
		out.Write(answer(body))
		out.WriteByte('\n')
		out.Flush()
	}
}

// answer decodes one file as kubectl's StreamVisitor does.
func answer(text []byte) []byte {
	d := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(text), 4096)
	docs := [][]byte{}
	for {
		ext := runtime.RawExtension{}
		if err := d.Decode(&ext); err != nil {
			if err == io.EOF {
				break
			}
			msg, _ := json.Marshal(map[string]string{"error": err.Error()})
			return msg
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		docs = append(docs, raw)
	}
	var b bytes.Buffer
	b.WriteString(`{"docs":[`)
	b.Write(bytes.Join(docs, []byte(",")))
	b.WriteString(`]}`)
	return b.Bytes()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "k8s-yaml:", err)
	os.Exit(2)
}
