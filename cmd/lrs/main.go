// Command lrs is the xAPI Learning Record Store server. Run lrs --help for
// its settings.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "lrs:", err)
	var cerr *ConfigError
	if errors.As(err, &cerr) {
		os.Exit(2)
	}
	os.Exit(1)
}
