package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/premetrics/premetrics/config"
)

// checkCommand validates each file and compiles it the way run would,
// printing every problem. Exit 0 when all are valid, 1 otherwise.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: premetrics check FILE...") }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	code := 0
	for _, file := range fs.Args() {
		cfg, err := config.LoadFile(file)
		if err == nil {
			_, err = compile(cfg, newObservability(nil))
		}
		if err != nil {
			fmt.Fprint(stderr, invalidConfig(file, err))
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: OK (%d JSON inputs, %d MQTT inputs, %d aggregations, %d remote_write endpoints)\n",
			file, len(cfg.Inputs.JSON), len(cfg.Inputs.MQTT), len(cfg.Aggregations), len(cfg.RemoteWrite))
	}
	return code
}
