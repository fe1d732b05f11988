// Command parley-cli is Parley's headless client: the same core packages as
// the desktop app, for servers, scripts and end-to-end tests.
//
// Data goes to stdout (a room link, received messages); state changes and
// errors go to stderr. Every failure prints a stable error code and exits
// with that code's status (see usage).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-chat/parley/app/transfer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	transfer.TuneGC()
	stopProfile := startCPUProfile()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &cliEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	err := dispatch(ctx, env, args)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "parley-cli: %v\nRun 'parley-cli help' for usage.\n", err)
		return exitUsage
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	code, status, sentence := describe(err)
	if code != "" {
		fmt.Fprintf(stderr, "parley-cli: %s: %s\n", code, sentence)
	} else {
		fmt.Fprintf(stderr, "parley-cli: %v\n", err)
	}
	return status
}
