package kubeassets_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// Where the binaries are cached: one folder per pinned version set, under the
// user cache directory (~/.cache on Linux).
func ExampleDefaultDir() {
	dir, err := kubeassets.DefaultDir()
	if err != nil {
		fmt.Println(err)
		return
	}
	base, _ := os.UserCacheDir()
	rel, _ := filepath.Rel(base, dir)
	fmt.Println(filepath.ToSlash(rel))
	// Output: gitopskit/kube-assets/k8s-1.37.2-etcd-3.7.3-kwok-0.8.0
}
