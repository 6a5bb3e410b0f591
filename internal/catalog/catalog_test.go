package catalog_test

import (
	"reflect"
	"testing"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/internal/catalog"
)

func TestKeyColumnsInPositionOrder(t *testing.T) {
	k := catalog.Key{}
	k.Add(2, "b")
	k.Add(0, "not_in_key")
	k.Add(1, "a")
	if got, want := k.Columns(), []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (catalog.Key{}).Columns(); got != nil {
		t.Errorf("no key: got %q, want nil", got)
	}
}

func TestAddKeyColumnGroupsRowsByTable(t *testing.T) {
	var tables []litepull.TableInfo
	tables = catalog.AddKeyColumn(tables, "a", "id", true)
	tables = catalog.AddKeyColumn(tables, "b", "", false)
	tables = catalog.AddKeyColumn(tables, "c", "x", true)
	tables = catalog.AddKeyColumn(tables, "c", "y", true)
	want := []litepull.TableInfo{{Name: "a", PrimaryKey: []string{"id"}}, {Name: "b"}, {Name: "c", PrimaryKey: []string{"x", "y"}}}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("got %+v, want %+v", tables, want)
	}
}
