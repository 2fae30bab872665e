package postgres

import (
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/hookd/hookd/pkg/webhook"
)

// paginate restricts q to the page opt selects, keyed on the unique, sortable
// column col. It fetches one row more than the limit to learn whether more follow.
func paginate(q *gorm.DB, col string, opt webhook.ListOptions) *gorm.DB {
	asc := opt.Ascending != opt.Backward // walking backward flips the scan
	if opt.Cursor != "" {
		if asc {
			q = q.Where(col+" > ?", opt.Cursor)
		} else {
			q = q.Where(col+" < ?", opt.Cursor)
		}
	}
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	return q.Order(col + dir).Limit(opt.Limit + 1)
}

// pageOf turns the rows fetched by paginate into a page in list order.
func pageOf[R, T any](rows []R, opt webhook.ListOptions, conv func(*R) (T, error)) (webhook.Page[T], error) {
	more := len(rows) > opt.Limit
	if more {
		rows = rows[:opt.Limit]
	}
	if opt.Backward {
		slices.Reverse(rows)
	}
	items := make([]T, 0, len(rows))
	for i := range rows {
		item, err := conv(&rows[i])
		if err != nil {
			return webhook.Page[T]{}, err
		}
		items = append(items, item)
	}
	return webhook.Page[T]{Items: items, More: more}, nil
}

// prefixed returns the comma-separated columns of list, each written
// <table><column> AS <as><column>, for a select of several tables.
func prefixed(table, as, list string) string {
	cols := strings.Split(list, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = table + c
		if as != "" {
			cols[i] += " AS " + as + c
		}
	}
	return strings.Join(cols, ", ")
}
