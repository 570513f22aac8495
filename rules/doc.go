// Package rules compiles the user's filtering and relabeling rules into
// immutable objects that are safe for concurrent use.
//
// Selector is a PromQL series selector, optionally compared with a number:
//
//	vehicle_rpm                       every series named vehicle_rpm
//	{__name__=~"cpu_.*", env!="dev"}  any PromQL matchers
//	vehicle_rpm != 0                  the same series; only samples != 0 count
//
// The selector part decides which series match; the comparison filters
// samples, as a PromQL comparison without "bool" filters vector elements.
//
// Relabeler applies Prometheus relabel_configs with Prometheus' own
// implementation (model/relabel), so every action (replace, keep, drop,
// keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase,
// uppercase) behaves exactly as in Prometheus. It works on batch.Label slices
// and writes results into caller-provided buffers, so steady-state use does
// not allocate beyond what the configured actions themselves need.
package rules
