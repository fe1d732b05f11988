// Command codestats prints the size figures of the structural step
// (issue #19) for Go packages: lines of non-test code per file, methods
// per receiver type, fields per struct, and the longest functions. It
// reads source only, so it works on any checkout:
//
//	go run ./scripts/codestats ./app ./app/session ./app/peer ./app/cmd/parley-cli
//
// With -tests the _test.go files are counted instead (the test kits).
package main

import (
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type fn struct {
	name  string
	lines int
}

func main() {
	tests := flag.Bool("tests", false, "count _test.go files instead of the package's code")
	top := flag.Int("top", 5, "how many of the longest functions and biggest types to list per package")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: codestats [-tests] [-top N] DIR...")
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		if err := report(dir, *tests, *top); err != nil {
			fmt.Fprintln(os.Stderr, "codestats:", err)
			os.Exit(1)
		}
	}
}

func report(dir string, tests bool, top int) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	total := 0
	var files []string
	methods := map[string]int{}
	fields := map[string]int{}
	var funcs []fn
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") != tests {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		n := fset.File(f.Pos()).LineCount()
		total += n
		files = append(files, fmt.Sprintf("%s %d", filepath.Base(p), n))
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					recv := typeName(d.Recv.List[0].Type)
					methods[recv]++
					name = recv + "." + name
				}
				funcs = append(funcs, fn{name, fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1})
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					if st, ok := ts.Type.(*ast.StructType); ok {
						n := 0
						for _, fl := range st.Fields.List {
							n += max(1, len(fl.Names))
						}
						fields[ts.Name.Name] = n
					}
				}
			}
		}
	}
	slices.SortFunc(funcs, func(a, b fn) int { return cmp.Compare(b.lines, a.lines) })
	fmt.Printf("%s: %d lines in %d files (%s)\n", dir, total, len(files), strings.Join(files, ", "))
	fmt.Printf("  methods: %s\n", biggest(methods, top))
	fmt.Printf("  fields: %s\n", biggest(fields, top))
	var long []string
	for _, f := range funcs[:min(top, len(funcs))] {
		long = append(long, fmt.Sprintf("%s %d", f.name, f.lines))
	}
	over := 0
	for _, f := range funcs {
		if f.lines > 60 {
			over++
		}
	}
	fmt.Printf("  longest functions: %s; %d of %d over 60 lines\n", strings.Join(long, ", "), over, len(funcs))
	return nil
}

func typeName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return typeName(t.X)
	case *ast.IndexExpr:
		return typeName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

func biggest(m map[string]int, top int) string {
	type kv struct {
		k string
		v int
	}
	var s []kv
	for k, v := range m {
		s = append(s, kv{k, v})
	}
	slices.SortFunc(s, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), strings.Compare(a.k, b.k)) })
	var out []string
	for _, x := range s[:min(top, len(s))] {
		out = append(out, fmt.Sprintf("%s %d", x.k, x.v))
	}
	return strings.Join(out, ", ")
}
