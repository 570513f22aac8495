package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/premetrics/premetrics/alerting"
	"github.com/premetrics/premetrics/config"
)

const rulesUsage = `usage: premetrics rules [--self-health=false] [--job=NAME] FILE

Prints the Prometheus rule file (rule_files) of the config's alerting
section, after checking the config the way premetrics check does. With
--self-health (the default) it ends with the group %q of alerts on
premetrics itself, on the self metrics Prometheus scrapes from it with the
job label --job.

`

// rulesCommand prints the Prometheus rule file of a config. Exit 0 with
// the file on stdout; 1 with the config's problems on stderr.
func rulesCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	selfHealth := fs.Bool("self-health", true, "append the built-in group of alerts on premetrics itself")
	job := fs.String("job", alerting.DefaultJob, "the job label of premetrics' self metrics in Prometheus (its scrape config's job_name), for the self-health alerts")
	fs.Usage = func() {
		fmt.Fprintf(stderr, rulesUsage, alerting.SelfHealthGroupName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	file := fs.Arg(0)
	cfg, err := loadChecked(file)
	if err != nil {
		fmt.Fprint(stderr, invalidConfig(file, err))
		return 1
	}
	opts := alerting.RenderOptions{
		Header: fmt.Sprintf("Prometheus rules of the premetrics config %s, written by premetrics rules (%s).\n"+
			"Do not edit: change the alerting section of the config and run premetrics rules again.", file, version),
	}
	if *selfHealth {
		opts.SelfHealth = &alerting.SelfHealth{Job: *job, QueueCapacity: queueCapacities(cfg)}
	}
	out, err := alerting.Render(cfg.Alerting, opts)
	if err != nil {
		fmt.Fprint(stderr, invalidConfig(file, cfg.ErrorsAt("alerting", err)))
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "premetrics rules:", err)
		return 1
	}
	return 0
}

// queueCapacities returns, per remote_write endpoint, the samples its
// queue holds: capacity per shard × shards.
func queueCapacities(cfg *config.Config) map[string]int {
	m := map[string]int{}
	for _, rw := range cfg.RemoteWrite {
		m[rw.Endpoint()] = rw.QueueConfig.Capacity * rw.QueueConfig.MaxShards
	}
	return m
}
