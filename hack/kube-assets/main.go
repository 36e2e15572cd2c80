// Command kube-assets builds the local cluster binaries from the Go module
// proxy into the cache folder (see package kubeassets) and prints the folder.
//
//	go run ./hack/kube-assets [-sim] [-dir DIR]
//
// Progress goes to stderr; stdout is only the folder, so that
// KUBEBUILDER_ASSETS="$(go run ./hack/kube-assets)" works.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

func main() {
	dir := flag.String("dir", "", "cache folder (default: the user cache dir, see kubeassets.DefaultDir)")
	bare := flag.Bool("bare", false, "only etcd and kube-apiserver (default: everything the simulated cluster needs)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	comps := kubeassets.SimCluster
	if *bare {
		comps = kubeassets.APIServer
	}
	out, err := kubeassets.Ensure(ctx, kubeassets.Options{Dir: *dir, Components: comps, Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(out)
}
