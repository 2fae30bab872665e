package webhook

// Default and maximum page sizes of list endpoints.
const (
	DefaultLimit = 50
	MaxLimit     = 250
)

// ListOptions selects one page of a cursor-paginated list.
type ListOptions struct {
	Limit int
	// Cursor is the sort key (an ID, or a name for event types) of the item
	// the page starts after; "" starts at the beginning.
	Cursor string
	// Backward pages towards the beginning: the items before Cursor, still
	// returned in list order. Set for a prevIterator.
	Backward bool
	// Ascending is the list order: oldest (or A) first when true.
	Ascending bool
}

// Page is one page of a list, in list order.
type Page[T any] struct {
	Items []T
	// More reports whether items exist beyond this page in the direction of travel.
	More bool
}
