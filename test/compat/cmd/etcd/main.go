// Command etcd is etcd's own server, at the version the compatibility
// suite embeds, so that the density benchmark can run it as a process of
// its own and measure kube-apiserver and etcd together.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
