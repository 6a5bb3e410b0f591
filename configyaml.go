package litepull

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// envRef is ${NAME} or ${NAME:-default}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// ExpandEnv replaces ${NAME} in a config value with the value of the
// environment variable NAME, and ${NAME:-default} with it or, when it is
// unset or empty, with default. A variable that is unset or empty without a
// default is an error naming it: an empty DSN would silently connect to
// the driver's defaults, and an empty token fail far from its cause.
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range envRef.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		v, ok := lookup(name)
		switch {
		case v != "":
		case m[4] >= 0: // a default, possibly empty
			v = s[m[4]+2 : m[5]]
		case !ok:
			return "", envError(name, "is not set", "export it")
		default:
			return "", envError(name, "is empty", "set it")
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(v)
		last = m[1]
	}
	if last == 0 {
		return s, nil
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

func envError(name, what, fix string) error {
	return &ConfigError{Msg: "environment variable " + name + " " + what,
		Hint: fmt.Sprintf("%s, or write ${%s:-default} to fall back to a default", fix, name)}
}

// expandEnvValues expands ${NAME} in the scalar values of a parsed YAML
// document: never in comments (a commented-out line may name a variable
// that is not set) nor in keys. Each value is expanded once, where it is
// written: an alias shares its anchor's expansion, and a variable's value
// is never expanded again.
func expandEnvValues(n *yaml.Node, path string, lookup func(string) (string, bool)) error {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := expandEnvValues(c, path, lookup); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := expandEnvValues(n.Content[i+1], joinPath(path, n.Content[i].Value), lookup); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := expandEnvValues(c, fmt.Sprintf("%s[%d]", path, i), lookup); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		v, err := ExpandEnv(n.Value, lookup)
		if err != nil {
			err.(*ConfigError).Path = path
			return err
		}
		if v != n.Value && n.Style == 0 && !yamlNull(v) {
			n.Tag = "" // plain: typed by what it now holds (pageSize: ${PAGE} is a number)
		}
		if v != n.Value {
			n.LineComment = fromEnv // never echoed in an error: it may be a secret
		}
		n.Value = v
	}
	return nil
}

// yamlNull reports a plain scalar YAML reads as null: a variable holding
// one is still the string it holds.
func yamlNull(v string) bool {
	switch v {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// keyChecker checks a YAML node against the Go type it will be decoded
// into, and names mistakes in the config's words: an unknown key with its
// place in the file and the nearest known key, a list or a mapping where
// the other is expected.
type keyChecker struct {
	// seen holds the nodes checked, with their types: an anchor used many
	// times is checked once, and one that contains itself ends.
	seen map[nodeType]bool
}

type nodeType struct {
	n *yaml.Node
	t reflect.Type
}

func (kc *keyChecker) check(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if kc.seen[nodeType{n, t}] {
		return nil
	}
	kc.seen[nodeType{n, t}] = true
	switch {
	case n.Kind == 0: // an empty file
		return nil
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			if err := kc.check(c, t, path); err != nil {
				return err
			}
		}
		return nil
	case n.Kind == yaml.AliasNode:
		return kc.check(n.Alias, t, path)
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return shapeError(path, n, "key: value lines")
		}
		return kc.checkMapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return shapeError(path, n, "a list")
		}
		for i, c := range n.Content {
			if err := kc.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return shapeError(path, n, "a single value")
		}
	case reflect.Int, reflect.Int64:
		var i int64
		if t.PkgPath() == "" && (n.Kind != yaml.ScalarNode || n.Decode(&i) != nil) { // not time.Duration
			return shapeError(path, n, "a whole number")
		}
	}
	return nil
}

func (kc *keyChecker) checkMapping(n *yaml.Node, t reflect.Type, path string) error {
	names, types := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // <<: *anchor
			if v.Kind == yaml.SequenceNode {
				for _, c := range v.Content {
					if err := kc.check(c, t, path); err != nil {
						return err
					}
				}
				continue
			}
			if err := kc.check(v, t, path); err != nil {
				return err
			}
			continue
		}
		ft, ok := types[k.Value]
		if !ok {
			return unknownKey(path, k, names)
		}
		if err := kc.check(v, ft, joinPath(path, k.Value)); err != nil {
			return err
		}
	}
	return nil
}

// yamlFields lists the keys a struct takes, in field order, and their types.
func yamlFields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			n, ts := yamlFields(f.Type)
			names = append(names, n...)
			for k, v := range ts {
				types[k] = v
			}
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		names = append(names, tag)
		types[tag] = f.Type
	}
	return names, types
}

// fromEnv marks (as its line comment, which decoding ignores) a value
// that came from the environment.
const fromEnv = "\x00litepull: from the environment"

func shapeError(path string, n *yaml.Node, want string) error {
	value := fmt.Sprintf("the value %q", n.Value)
	if n.LineComment == fromEnv {
		value = "the value of its environment variable"
	}
	got := map[yaml.Kind]string{yaml.ScalarNode: value,
		yaml.SequenceNode: "a list", yaml.MappingNode: "key: value lines"}[n.Kind]
	return &ConfigError{Path: path, Msg: fmt.Sprintf("want %s, not %s (line %d)", want, got, n.Line), Hint: "see the config example in the README"}
}

func unknownKey(path string, k *yaml.Node, known []string) error {
	hint := "known keys here: " + strings.Join(known, ", ")
	if near := nearest(k.Value, known); near != "" {
		hint = "did you mean " + near + "?"
	}
	return &ConfigError{Path: path, Msg: fmt.Sprintf("unknown key %q at line %d", k.Value, k.Line), Hint: hint}
}

// nearest is the known key closest to key, if one is close enough to be
// what was meant: the same but for case, a prefix of it, or a few edits
// (a typo, two letters swapped) away.
func nearest(key string, known []string) string {
	key = strings.ToLower(key)
	best, bestDist := "", 1+len(key)/4
	for _, k := range known {
		lk := strings.ToLower(k)
		d := editDistance(key, lk)
		if len(key) >= 3 && strings.HasPrefix(lk, key) {
			d = min(d, 1)
		}
		if d < bestDist || (d == bestDist && best == "") {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbouring letters.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// parseYAML parses a config file into a node tree, expands ${ENV} in its
// values and checks its keys.
func parseYAML(data []byte, lookup func(string) (string, bool)) (doc *yaml.Node, remote *yaml.Node, err error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	doc = &yaml.Node{}
	if err := yaml.Unmarshal(data, doc); err != nil {
		return nil, nil, &ConfigError{Msg: "parse YAML: " + err.Error(), Hint: "see the config example in the README"}
	}
	if err := expandEnvValues(doc, "", lookup); err != nil {
		return nil, nil, err
	}
	kc := keyChecker{seen: map[nodeType]bool{}}
	if remote = detachRemoteReplica(doc); remote != nil {
		if err := kc.check(remote, reflect.TypeFor[ReplicaService](), "replica"); err != nil {
			return nil, nil, err
		}
	}
	if err := kc.check(doc, reflect.TypeFor[Config](), ""); err != nil {
		return nil, nil, err
	}
	return doc, remote, nil
}

// detachRemoteReplica takes a replica: given as a mapping (a remote
// service) out of the document, leaving the file path empty, and returns
// it; a replica: given as a path stays, and nil is returned.
func detachRemoteReplica(doc *yaml.Node) *yaml.Node {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		v := root.Content[i+1]
		for v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if root.Content[i].Value == "replica" && v.Kind == yaml.MappingNode {
			root.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
			return v
		}
	}
	return nil
}
