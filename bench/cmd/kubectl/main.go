// Command kubectl is k8s.io/kubernetes/cmd/kubectl (v1.37.2) built from the
// k8s.io/kubectl module at the version the bench module resolves: the
// version of gitopskit's client libraries and of the test API server. The
// bench builds it into bin/kubectl with -ldflags setting its version (see
// ensureKubectl), so that kubectl and the API server are at the same version.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	// Import to initialize client auth plugins.
	_ "k8s.io/client-go/plugin/pkg/client/auth"
)

func main() {
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
