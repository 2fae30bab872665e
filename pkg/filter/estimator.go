package filter

import (
	"cel.dev/cel-go/common/cost"
)

// sizeEstimator bounds the sizes cel-go's cost estimate works with. Without
// it every list and string is of unknown size and any macro over payload
// would be "unbounded". Channels and tags have Svix's limits; payload and
// anything inside it is bounded by the payload's size in bytes, a safe
// upper bound for the length of any string or list in it.
type sizeEstimator struct {
	payload uint64
}

func (s sizeEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	size := s.payload
	if p := n.Path(); len(p) > 0 {
		switch p[0] {
		case "channels":
			size = maxChannels
			if len(p) > 1 {
				size = maxLabelLength
			}
		case "tags":
			size = maxTags
			if len(p) > 1 {
				size = maxLabelLength
			}
		case "eventType":
			size = maxEventTypeLen
		}
	}
	return &cost.SizeEstimate{Min: 0, Max: size}
}

func (sizeEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
