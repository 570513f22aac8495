// Command premetrics is the premetrics daemon and its tools.
//
//	premetrics run --config.file=FILE [--web.listen-address=ADDR] [--storage.path=DIR]
//	               [--memory.limit=auto|off|SIZE|PCT%] [--web.enable-pprof]
//	premetrics check FILE...
//	premetrics test [-run REGEXP] FILE...
//	premetrics rules [--self-health=false] [--job=NAME] FILE
//	premetrics version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: premetrics <command> [flags]

commands:
  run      run the daemon (premetrics run --config.file=FILE)
  check    validate config files without starting anything (premetrics check FILE...)
  test     run config unit tests: input samples in, expected output out (premetrics test FILE...)
  rules    print the Prometheus alerting rules file of a config (premetrics rules FILE)
  version  print the version

Run "premetrics <command> -h" for the flags of a command.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stderr)
	case "check":
		return checkCommand(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "premetrics %s\n", version)
		return 0
	case "test":
		return testCommand(args[1:], stdout, stderr)
	case "rules":
		return rulesCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "premetrics: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
