package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/premetrics/premetrics/catalog"
	"github.com/premetrics/premetrics/config"
)

// checkCommand validates each file and compiles it the way run would,
// then checks its derive records and alerting rules against what the
// pipeline emits, printing every problem. Exit 0 when all are valid, 1
// otherwise.
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
		cfg, err := loadChecked(file)
		if err != nil {
			fmt.Fprint(stderr, invalidConfig(file, err))
			code = 1
			continue
		}
		rules := 0
		for _, g := range cfg.Alerting.Groups {
			rules += len(g.Rules)
		}
		fmt.Fprintf(stdout, "%s: OK (%d JSON inputs, %d MQTT inputs, %d aggregations, %d remote_write endpoints); %d derive records, %d rule groups with %d rules\n",
			file, len(cfg.Inputs.JSON), len(cfg.Inputs.MQTT), len(cfg.Aggregations), len(cfg.RemoteWrite),
			len(cfg.Derive), len(cfg.Alerting.Groups), rules)
	}
	return code
}

// loadChecked loads the config file, compiles it the way run would
// (starting nothing) and checks it against its pipeline (checkPipeline).
func loadChecked(file string) (*config.Config, error) {
	cfg, err := config.LoadFile(file)
	if err != nil {
		return nil, err
	}
	if _, err := compile(cfg, newObservability(nil)); err != nil {
		return nil, err
	}
	if err := checkPipeline(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkPipeline checks what needs the whole pipeline: the derive records
// (package catalog) and the alerting rules against what the pipeline
// writes and premetrics' self metrics. The error is config.Errors, in
// file order.
func checkPipeline(cfg *config.Config) error {
	var errs config.Errors
	cat, err := catalog.New(cfg)
	if err != nil {
		var ce config.Errors
		if !errors.As(err, &ce) {
			return err
		}
		errs = append(errs, ce...)
	}
	self := selfMetricNames()
	if err := cfg.Alerting.Check(cat, func(name string) bool { return self[name] }); err != nil {
		errs = append(errs, cfg.ErrorsAt("alerting", err)...)
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *config.Error) int { return a.Line - b.Line })
	return errs
}
