package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"

	"github.com/premetrics/premetrics/configtest"
)

// testCommand runs the config unit tests of each file (package
// configtest). Exit 0 when every test passed, 1 when one failed, 2 when a
// file cannot be read or is invalid (its config included) or the command
// line is wrong.
func testCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := fs.String("run", "", "run only the tests whose name matches this regular expression")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: premetrics test [-run REGEXP] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var filter func(string) bool
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(stderr, "premetrics test: -run: %v\n", err)
			return 2
		}
		filter = re.MatchString
	}
	code := 0
	for _, file := range fs.Args() {
		suite, err := configtest.Load(file, configtest.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "%s: INVALID\n%v\n", file, err)
			code = 2
			continue
		}
		results := suite.Run(context.Background(), filter)
		for i := range results {
			results[i].Write(stdout)
			if !results[i].Passed() {
				code = max(code, 1)
			}
		}
		fmt.Fprintln(stdout, configtest.Summary(file, results))
	}
	return code
}
