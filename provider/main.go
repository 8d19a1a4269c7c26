// pulumi-resource-command (stand-in): an offline stand-in for Pulumi's command provider 1.2.1.
//
// It implements the two resources this project uses, command:remote:Command and
// command:remote:CopyToRemote, with the official provider's observable behaviour: the same inputs,
// defaults, outputs, secretness, diff (triggers replace, everything else updates), preview (runs
// nothing; outputs unknown), error texts, state after a failure (none recorded), dial retries, and its
// end when its engine is gone (server.go, hostLogger).
// It exists because the official provider cannot be downloaded on machines without internet; the
// bootstrap prefers the official provider wherever it can be had.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Name and version: the engine looks the plugin up as resource-command-v1.2.1, the version the
// @pulumi/command SDK 1.2.1 asks for.
const (
	providerName = "command"
	// Version is what GetPluginInfo reports; overridable at link time for tests.
	defaultVersion = "1.2.1"
)

// Version can be stamped with -ldflags "-X main.Version=...".
var Version = defaultVersion

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Printf("%s (offline stand-in)\n", Version)
		return
	}
	err := provider.Main(providerName, func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newServer(host), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command (stand-in): %v\n", err)
		os.Exit(1)
	}
}
