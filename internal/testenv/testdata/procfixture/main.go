// Command procfixture is a child process for testenv's own tests: it
// serves /-/ready on -listen, and on SIGTERM exits with -exit-code (or
// ignores SIGTERM with -ignore-term).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "", "address to serve /-/ready on; empty: exit at once")
	exitCode := flag.Int("exit-code", 0, "exit code on SIGTERM, or at once without -listen")
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM")
	flag.Parse()

	fmt.Println("procfixture started")
	fmt.Fprintln(os.Stderr, "procfixture stderr line")
	if *listen == "" {
		os.Exit(*exitCode)
	}
	sigs := make(chan os.Signal, 1)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	go func() { _ = http.Serve(l, nil) }()
	<-sigs
	fmt.Println("procfixture got SIGTERM")
	os.Exit(*exitCode)
}
