// Package tools only pins the control plane's binaries; see the tool directives in go.mod.
package tools
