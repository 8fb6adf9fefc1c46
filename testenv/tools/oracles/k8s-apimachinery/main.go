// Command k8s-apimachinery answers, one line per request, how k8s.io/apimachinery (the
// version the testenv's kube-apiserver is built with) judges names, label and annotation
// keys and values, ConfigMap keys and resource quantities.
//
// Each request is a JSON array on one line: ["FUNC", "INPUT"] or ["cmp", "A", "B"].
// Each answer is a JSON object on one line: {"errors": [...]} (empty when valid); for
// "quantity" and "quantity_json" also "value" (the canonical string) when valid; for "cmp"
// {"cmp": -1|0|1} or {"errors": [...]} when either side does not parse.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

type answer struct {
	Errors []string `json:"errors"`
	Value  *string  `json:"value,omitempty"`
	Cmp    *int     `json:"cmp,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var req []string
		var a answer
		if err := json.Unmarshal(in.Bytes(), &req); err != nil || len(req) < 2 {
			a.Errors = []string{fmt.Sprintf("bad request: %v", err)}
		} else {
			a = judge(req)
		}
		if a.Errors == nil {
			a.Errors = []string{}
		}
		line, _ := json.Marshal(a)
		out.Write(line)
		out.WriteByte('\n')
		out.Flush()
	}
}

func judge(req []string) answer {
	s := req[1]
	switch req[0] {
	case "dns1123_label":
		return answer{Errors: validation.IsDNS1123Label(s)}
	case "dns1123_subdomain":
		return answer{Errors: validation.IsDNS1123Subdomain(s)}
	case "dns1035_label":
		return answer{Errors: validation.IsDNS1035Label(s)}
	case "qualified_name":
		return answer{Errors: validation.IsQualifiedName(s)}
	case "label_value":
		return answer{Errors: validation.IsValidLabelValue(s)}
	case "config_map_key":
		return answer{Errors: validation.IsConfigMapKey(s)}
	case "quantity":
		q, err := resource.ParseQuantity(s)
		return quantity(q, err)
	case "quantity_json":
		var q resource.Quantity
		err := json.Unmarshal([]byte(s), &q)
		return quantity(q, err)
	case "cmp":
		if len(req) < 3 {
			return answer{Errors: []string{"cmp needs two quantities"}}
		}
		a, errA := resource.ParseQuantity(req[1])
		b, errB := resource.ParseQuantity(req[2])
		if errA != nil || errB != nil {
			return answer{Errors: []string{fmt.Sprint(errA, errB)}}
		}
		c := a.Cmp(b)
		return answer{Cmp: &c}
	}
	return answer{Errors: []string{"unknown function " + strings.TrimSpace(req[0])}}
}

func quantity(q resource.Quantity, err error) answer {
	if err != nil {
		return answer{Errors: []string{err.Error()}}
	}
	v := q.String()
	return answer{Value: &v}
}
