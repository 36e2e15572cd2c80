package kubeassets_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// Build (the first time) or find the binaries of a bare API server, for
// example to point controller-runtime's envtest at them.
func ExampleEnsure() {
	dir, err := kubeassets.Ensure(context.Background(), kubeassets.Options{
		Components: kubeassets.APIServer,
		Log:        os.Stderr, // a cold build takes minutes and says so
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("KUBEBUILDER_ASSETS=" + dir)
}
