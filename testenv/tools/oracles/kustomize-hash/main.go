// kustomize-hash answers with kustomize v5.7.1's own code (sigs.k8s.io/kustomize/api v0.20.1,
// the version kustomize/v5 v5.7.1's go.mod requires): the content-hash name suffix of a
// ConfigMap or Secret.
//
// Protocol (stdin -> stdout), one answer line per request, in order:
//
//	request: "<n>\n" followed by exactly n bytes of JSON, one of
//	  {"build": {"kind": "ConfigMap"|"Secret", "type": "...", "files": [{"key": K, "base64": B}]}}
//	      a real `kustomize build` (in memory) of a kustomization with one configMapGenerator
//	      or secretGenerator entry named "gen" whose file sources are K=<a file holding the
//	      bytes B decodes to>, optionally with "resources" (YAML of more objects) and a
//	      "namespace"; answers {"name": <generated name>, "object": <generated object>,
//	      "objects": [<every object built, references to "gen" rewritten by kustomize>]}
//	  {"hash": <object>}
//	      kustomize's hasher (api/hasher) over the object, its node built as kustomize's
//	      generators build theirs; answers {"hash": <suffix>}
//	answer: that JSON, or {"error": "<kustomize's message>"}
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/api/hasher"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

type file struct {
	Key    string `json:"key"`
	Base64 string `json:"base64"`
}

type generator struct {
	Kind  string `json:"kind"`
	Type  string `json:"type"`
	Files []file `json:"files"`
	// Optional: YAML of more objects (kustomize rewrites their references to "gen"), and
	// the kustomization's namespace.
	Resources string `json:"resources"`
	Namespace string `json:"namespace"`
}

type request struct {
	Build *generator             `json:"build"`
	Hash  map[string]interface{} `json:"hash"`
}

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
		answer, err := answer(body)
		if err != nil {
			answer, _ = json.Marshal(map[string]string{"error": err.Error()})
		}
		out.Write(answer)
		out.WriteByte('\n')
		out.Flush()
	}
}

func answer(body []byte) ([]byte, error) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("bad request: %w", err)
	}
	switch {
	case req.Build != nil:
		return build(req.Build)
	case req.Hash != nil:
		return hash(req.Hash)
	}
	return nil, fmt.Errorf("a request is {\"build\": ...} or {\"hash\": ...}")
}

// build runs `kustomize build` on an in-memory kustomization with one generator.
func build(g *generator) ([]byte, error) {
	fs := filesys.MakeFsInMemory()
	var k strings.Builder
	switch g.Kind {
	case "ConfigMap":
		k.WriteString("configMapGenerator:\n")
	case "Secret":
		k.WriteString("secretGenerator:\n")
	default:
		return nil, fmt.Errorf("kind must be ConfigMap or Secret, not %q", g.Kind)
	}
	k.WriteString("- name: gen\n")
	if g.Type != "" {
		fmt.Fprintf(&k, "  type: %s\n", strconv.Quote(g.Type))
	}
	k.WriteString("  files:\n")
	for i, f := range g.Files {
		content, err := base64.StdEncoding.DecodeString(f.Base64)
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", f.Key, err)
		}
		path := fmt.Sprintf("/app/f%d", i)
		if err := fs.WriteFile(path, content); err != nil {
			return nil, err
		}
		fmt.Fprintf(&k, "  - %s\n", strconv.Quote(f.Key+"=f"+strconv.Itoa(i)))
	}
	if g.Resources != "" {
		if err := fs.WriteFile("/app/resources.yaml", []byte(g.Resources)); err != nil {
			return nil, err
		}
		k.WriteString("resources:\n- resources.yaml\n")
	}
	if g.Namespace != "" {
		fmt.Fprintf(&k, "namespace: %s\n", strconv.Quote(g.Namespace))
	}
	if err := fs.WriteFile("/app/kustomization.yaml", []byte(k.String())); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/app")
	if err != nil {
		return nil, err
	}
	var generated interface{}
	name := ""
	objects := []json.RawMessage{}
	for _, res := range m.Resources() {
		object, err := res.MarshalJSON()
		if err != nil {
			return nil, err
		}
		objects = append(objects, object)
		if res.GetKind() == g.Kind && strings.HasPrefix(res.GetName(), "gen-") {
			name, generated = res.GetName(), json.RawMessage(object)
		}
	}
	if generated == nil {
		return nil, fmt.Errorf("kustomize built no %s named gen-*", g.Kind)
	}
	return json.Marshal(map[string]interface{}{"name": name, "object": generated, "objects": objects})
}

// hash builds the object's node as kustomize's generators build theirs (every string a
// !!str scalar, literal style when it spans lines: kyaml's makeConfigMapValueRNode) and
// hashes it with kustomize's hasher. (resource.Factory.FromMap would first round-trip the
// object through go-yaml v3, which fails on values such as "\t\n".)
func hash(object map[string]interface{}) ([]byte, error) {
	h, err := (&hasher.Hasher{}).Hash(yaml.NewRNode(node(object)))
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"hash": h})
}

func node(v interface{}) *yaml.Node {
	switch v := v.(type) {
	case map[string]interface{}:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		for _, k := range keys {
			n.Content = append(n.Content, node(k), node(v[k]))
		}
		return n
	case []interface{}:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		for _, item := range v {
			n.Content = append(n.Content, node(item))
		}
		return n
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v}
		if strings.Contains(v, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: strconv.FormatBool(v)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagFloat, Value: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagNull, Value: "null"}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kustomize-hash:", err)
	os.Exit(2)
}
