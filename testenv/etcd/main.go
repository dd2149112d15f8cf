// Command etcd is etcd's own server entry point (go.etcd.io/etcd/server/v3/etcdmain),
// wrapped in a module of our own because `go install` refuses modules with replace
// directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
