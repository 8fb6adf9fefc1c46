// Velero's own command (github.com/vmware-tanzu/velero/cmd/velero), with one addition for the
// local control plane: several `velero server`s run on one host (one per region), and each
// starts controller-runtime's metrics listener on its package default ":8080", which Velero
// v1.18 does not expose as a flag. HADR_VELERO_CR_METRICS_ADDRESS sets that default before the
// command runs ("0" turns the listener off).
package main

import (
	"os"
	"path/filepath"

	"k8s.io/klog/v2"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vmware-tanzu/velero/pkg/cmd"
	"github.com/vmware-tanzu/velero/pkg/cmd/velero"
)

func main() {
	defer klog.Flush()
	if addr, ok := os.LookupEnv("HADR_VELERO_CR_METRICS_ADDRESS"); ok {
		metricsserver.DefaultBindAddress = addr
	}
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
