// Package infer works out, from a PromQL expression alone, which label
// names the series of its result can carry, given what is known of the
// series its selectors read; and reports the labels an expression uses
// that can never be there (a matcher, by or on a label an aggregation
// removed).
//
//	Resolver(selector) ─► []Family{Name, Origin, Labels} ─┐
//	                                                      ▼
//	             Expr(parsed PromQL) ─► result Labels + problems
//
// Labels is a closed set (these labels at most) or an open one (any label
// but these). It is a leaf package: package catalog uses it to infer the
// labels of derive records over the families the pipeline emits, package
// alerting to check rules against them.
package infer
