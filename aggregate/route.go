package aggregate

// Route is what Push learned about one input series: that the match
// selector rejects it, or the shard and id of the group it went to. A
// caller that keeps the Routes of its series between requests (package
// routecache) hands them back to PushRouted, which then skips the
// selector, the group hash and the index lookup for that series. See
// doc.go, "Routes".
//
// The zero Route means unknown. A group route is valid while its shard's
// epoch is the one it recorded: the epoch advances whenever the shard
// forgets a group or renumbers its groups, the only events that give a
// group id to another group.
type Route uint64

const (
	// routeNotMatched: the match selector rejects the series. It depends on
	// the labels alone, so it never goes stale.
	routeNotMatched Route = ^Route(0)
	routeGidBits          = 26 // group id + 1; all ones is reserved for routeNotMatched
	routeShardBits        = 6  // numShards = 64
	routeMaxGid           = 1<<routeGidBits - 3
)

// groupRoute returns the route to group gid of shard s in epoch, or 0 when
// the id does not fit.
func groupRoute(s, gid int, epoch uint32) Route {
	if uint(gid) > routeMaxGid {
		return 0
	}
	return Route(uint64(gid+1) | uint64(s)<<routeGidBits | uint64(epoch)<<(routeGidBits+routeShardBits))
}

// group returns the shard, group id and epoch of a group route.
func (r Route) group() (s, gid int, epoch uint32) {
	return int(r>>routeGidBits) & (numShards - 1), int(r&(1<<routeGidBits-1)) - 1, uint32(r >> (routeGidBits + routeShardBits))
}

// Routable reports whether PushRouted uses routes: not with
// input_relabel_configs, whose output (not the series' own labels) is
// what the series hash of per-series state is taken over.
func (a *Aggregator) Routable() bool { return a.inRelabel == nil }

// A route has room for exactly numShards shards.
var _ = [1]struct{}{}[numShards-1<<routeShardBits]

// routed returns the group id of route r in sh, or -1 when r is stale.
// The caller holds sh.mu.
func (sh *shard) routed(r Route) int {
	_, gid, epoch := r.group()
	if epoch != sh.epoch || uint(gid) >= uint(len(sh.groups)) || sh.groups[gid].lref == 0 {
		return -1
	}
	return gid
}

// KeepsInput reports whether the aggregation passes its input on
// (keep_input): Push marks such series MarkKept, and the pipeline sends
// them on with their labels.
func (a *Aggregator) KeepsInput() bool { return a.keepInput }
